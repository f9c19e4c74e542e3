"""Where the public sample messages live: ../shared/testdata beside the checkout, or PEERBRIDGE_TESTDATA."""
from __future__ import annotations

import os
from pathlib import Path

from tests.support.stack import ROOT

TESTDATA = Path(os.environ.get("PEERBRIDGE_TESTDATA", ROOT.parent / "shared" / "testdata"))
HL7_SAMPLES = TESTDATA / "hl7"
X12_SAMPLES = TESTDATA / "x12"
