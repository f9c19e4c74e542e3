"""Checks event data against its contract: the JSON Schema generated from the event's model (services.contracts)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastjsonschema
from jsonschema import Draft202012Validator

from services.contracts import event_classes
from services.contracts.schemas import document

from .errors import ContractError
from .settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "schemas" / "events"


@lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    """The reference validator of one event: slow, but it names every failing field."""
    return Draft202012Validator(document(event_classes()[name]), format_checker=Draft202012Validator.FORMAT_CHECKER)


@lru_cache(maxsize=None)
def _compiled(name: str):
    """One event's schema compiled to Python by fastjsonschema: the fast path every emit of it takes. Compiled on first
    use, so a process pays only for the events it emits (a worker process starts in a fraction of the time)."""
    # use_default=False: the check must not write the schema's defaults (nulls) into the data it checks.
    return fastjsonschema.compile(_as_draft7(document(event_classes()[name])), use_default=False)


def _as_draft7(schema: dict) -> dict:
    # Our schemas use no keyword that differs between draft 7 and 2020-12; fastjsonschema knows up to draft 7.
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def event_names() -> list[str]:
    """Every event that has a contract."""
    return sorted(event_classes())


def known(name: str) -> bool:
    """Whether the event is in the catalogue (a test's own event, say, is not)."""
    return name in event_classes()


def validate(name: str, data: dict) -> None:
    """Raise ContractError when data does not match the schema of event `name`; the message names fields only."""
    if not known(name):
        raise ContractError(f"no schema for event {name}")
    try:
        _compiled(name)(data)
        return
    except fastjsonschema.JsonSchemaException:
        pass  # the full validator below lists every failing field
    validator = _validator(name)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = ", ".join("/".join(map(str, e.absolute_path)) or "(root)" for e in errors[:5])
        # Field paths only: the offending values may be patient data.
        raise ContractError(f"{name} does not match its schema at: {where}")


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.json"
