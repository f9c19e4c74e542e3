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


def incompatibilities(pinned: dict, current: dict) -> list[str]:
    """Why `current` cannot replace the `pinned` published schema; empty when it only adds optional fields.

    Readers drop fields they do not know (`parse`), so a field with a default that old producers never sent and old
    readers ignore changes nothing for either side; anything else (a field removed, retyped or newly required, an
    enum narrowed or widened) would fail a reader on one side of a rolling upgrade.
    """
    problems = _object_changes("event", pinned, current)
    old_defs, new_defs = pinned.get("$defs", {}), current.get("$defs", {})
    for name, old in old_defs.items():
        if name not in new_defs:
            problems.append(f"{name}: shape removed")
        else:
            problems += _object_changes(name, old, new_defs[name])
    return problems


def _object_changes(where: str, old: dict, new: dict) -> list[str]:
    """Compare one object schema: old properties kept as they were, new ones optional with a default."""
    problems = []
    if set(new.get("required", [])) != set(old.get("required", [])):
        problems.append(f"{where}: required fields changed")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for field, schema in old_props.items():
        if field not in new_props:
            problems.append(f"{where}.{field}: removed")
        elif new_props[field] != schema:
            problems.append(f"{where}.{field}: changed")
    for field in new_props.keys() - old_props.keys():
        if "default" not in new_props[field]:
            problems.append(f"{where}.{field}: added without a default")
    return problems
