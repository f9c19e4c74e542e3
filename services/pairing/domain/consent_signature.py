"""The consent's signature and named recipients as ConsentRecorded carries them: facts and a hash, never the image."""
from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any

PNG_PREFIX = "data:image/png;base64,"


def png_bytes(data_url: str) -> bytes:
    """The PNG inside the console's data URL (validated by the API's pattern)."""
    try:
        return base64.b64decode(data_url.removeprefix(PNG_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("signature is not base64") from None


def event_fields(consent_id: str, body: dict[str, Any], now: datetime, public_url: str = "") -> dict[str, Any]:
    """What ConsentRecorded says of the signature (who, when, size and SHA-1 as FHIR R4 Attachment.hash wants it)
    and of the named recipients. The image stays in pairing: a recipient reads it by the consent's id."""
    fields: dict[str, Any] = {"consent_id": consent_id}
    if body.get("recipients") is not None:
        fields["recipients"] = [{k: r[k] for k in ("name", "system", "value")} for r in body["recipients"]]
    if body.get("signature"):
        image = png_bytes(body["signature"])
        fields.update(signed_at=body.get("signed_at") or now, signer=body.get("signer") or "patient",
                      signature_sha1=base64.b64encode(hashlib.sha1(image).digest()).decode(),  # noqa: S324
                      signature_size=len(image))
        if public_url:
            fields["signature_url"] = f"{public_url}/consents/{consent_id}/signature"
    return fields
