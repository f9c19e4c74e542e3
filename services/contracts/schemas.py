"""The JSON Schema of each event, generated from its model: what `schemas/events/*.json` hold."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .base import Event, event_classes

BASE_URI = "https://peerbridge.org/schemas/events/"


def document(cls: type[Event]) -> dict:
    """The event's JSON Schema (draft 2020-12), self-contained."""
    schema = cls.model_json_schema(ref_template="#/$defs/{model}")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{BASE_URI}{cls.__name__}.json",
            **schema}


def text(cls: type[Event]) -> str:
    """The schema as committed: sorted keys are not used, so the file reads in the model's field order."""
    return json.dumps(document(cls), indent=2, ensure_ascii=False) + "\n"


def fingerprint(cls: type[Event]) -> str:
    """What a published version is pinned by: the SHA-256 of its schema text."""
    return hashlib.sha256(text(cls).encode()).hexdigest()


def write(directory: Path) -> list[Path]:
    """Write every event's schema into `directory`; returns the files written."""
    written = []
    for name, cls in event_classes().items():
        path = directory / f"{name}.json"
        path.write_text(text(cls))
        written.append(path)
    return written
