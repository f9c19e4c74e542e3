"""The file name a biller's upload carries in Content-Disposition is kept for display, never as a path."""
from __future__ import annotations

import pytest

from services.billing.api_inbound import sent_filename

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("header, kept", [
    ("attachment; filename*=UTF-8''remit%20d%C3%A9cembre.835", "remit décembre.835"),
    ('attachment; filename="ack.999"', "ack.999"),
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ('attachment; filename="C:\\\\inbox\\\\claims.277"', "claims.277"),
    ("attachment; filename*=UTF-8''a%0Ab.999", "ab.999"),
    ("attachment; filename*=UTF-8''" + "x" * 300, "x" * 255),
    ("attachment", None),
    (None, None),
])
def test_the_uploaded_file_name_is_its_last_printable_part(header, kept):
    assert sent_filename(header) == kept
