"""The JSON Schemas in schemas/events are the contract of every event; this validates against them."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import fastjsonschema
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .errors import ContractError
from .settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "schemas" / "events"


@lru_cache(maxsize=1)
def _validators() -> dict[str, Draft202012Validator]:
    schemas = {p.stem: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.json"))}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values() if "$id" in s
    )
    checker = Draft202012Validator.FORMAT_CHECKER
    return {name: Draft202012Validator(s, registry=registry, format_checker=checker)
            for name, s in schemas.items() if not name.startswith("_")}


@lru_cache(maxsize=1)
def _compiled() -> dict[str, object]:
    """Schemas compiled to Python by fastjsonschema: the fast path for the valid events every emit checks."""
    schemas = {p.stem: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.json"))}
    by_id = {s["$id"]: _as_draft7(s) for s in schemas.values() if "$id" in s}
    handlers = {"https": lambda uri: by_id[uri.split("#")[0]]}
    return {name: fastjsonschema.compile(_as_draft7(s), handlers=handlers)
            for name, s in schemas.items() if not name.startswith("_")}


def _as_draft7(schema: dict) -> dict:
    # Our schemas use no keyword that differs between draft 7 and 2020-12; fastjsonschema knows up to draft 7.
    return {k: v for k, v in schema.items() if k != "$schema"}


def event_names() -> list[str]:
    """Every event that has a schema."""
    return sorted(_validators())


def validate(name: str, data: dict) -> None:
    """Raise ContractError when data does not match the schema of event `name`; the message names fields only."""
    fast = _compiled().get(name)
    if fast is None:
        raise ContractError(f"no schema for event {name}")
    try:
        fast(data)
        return
    except fastjsonschema.JsonSchemaException:
        pass  # the full validator below lists every failing field
    validator = _validators()[name]
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = ", ".join("/".join(map(str, e.absolute_path)) or "(root)" for e in errors[:5])
        # Field paths only: the offending values may be patient data.
        raise ContractError(f"{name} does not match its schema at: {where}")


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.json"
