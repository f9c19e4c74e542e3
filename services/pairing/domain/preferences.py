"""What the patient told their peer at first contact, as matching reads it whenever the case is re-matched."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preferences:
    """The patient's recovery pathways (most wanted first), whether they want a peer of their gender, their language."""

    pathways: tuple[str, ...] = ()
    same_gender_peer: bool = False
    language: str | None = None

    @classmethod
    def of(cls, stored: dict | None) -> "Preferences | None":
        """From the case's stored preferences (None when none were recorded)."""
        if not stored:
            return None
        return cls(pathways=tuple(stored.get("pathways") or ()), same_gender_peer=bool(stored.get("same_gender_peer")),
                   language=stored.get("language"))
