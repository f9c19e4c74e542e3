"""Preferred language as BCP-47, from what feeds send: ISO 639-1/639-2 codes (SPA, spa, es) or names (Spanish)."""
from __future__ import annotations

from functools import lru_cache

import langcodes


@lru_cache(maxsize=1024)
def to_bcp47(value: str) -> str | None:
    """A normalised BCP-47 tag, or None when the value names no known language."""
    text = (value or "").strip()
    if not text or len(text) > 40:
        return None
    try:
        if text.replace("-", "").replace("_", "").isalpha() and 2 <= len(text.split("-")[0]) <= 3:
            tag = langcodes.get(text.lower().replace("_", "-"))
        else:
            tag = langcodes.find(text)
    except (LookupError, ValueError):
        try:
            tag = langcodes.find(text)
        except (LookupError, ValueError):
            return None
    if not tag.is_valid() or tag.language in (None, "und"):
        return None
    return tag.to_tag()
