"""Fresh identifiers for tests, so tests sharing a running stack never collide."""
from __future__ import annotations

import random

from services.runtime.npi import is_valid_npi


def random_npi() -> str:
    """A random NPI with a valid check digit."""
    while True:
        candidate = str(random.randint(1_000_000_000, 1_999_999_999))
        if is_valid_npi(candidate):
            return candidate
