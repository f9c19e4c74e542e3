"""The base shapes: strict when we build what we publish, tolerant when we read what was stored or sent before."""
from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, ValidationInfo, \
    model_validator

# Read tolerantly: fields an older or newer producer sent that this model does not know are left out, not refused.
TOLERANT = {"tolerant": True}

FacilityId = Annotated[str, StringConstraints(min_length=1, max_length=64),
                       Field(description="Facility id: first component of MSH-4 (sending facility)")]
VisitNumber = Annotated[str, StringConstraints(min_length=1, max_length=64),
                        Field(description="ED visit number: first component of PV1-19")]
# Written as Python's isoformat (+00:00), as every event so far has been.
Instant = Annotated[AwareDatetime, PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json")]
Id = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Npi = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]


class Shape(BaseModel):
    """A contract shape: unknown fields are refused when built, dropped when read with the TOLERANT context."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and info.context and info.context.get("tolerant"):
            known = {f.alias or name for name, f in cls.model_fields.items()} | set(cls.model_fields)
            return {k: v for k, v in data.items() if k in known}
        return data


S = TypeVar("S", bound=Shape)


class Event(Shape):
    """An event's data; its class name is the event's name, `topic` the topic it travels on."""

    topic: ClassVar[str] = ""

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def to_data(self) -> dict[str, Any]:
        """The JSON data of the event, as it goes on the wire (no nulls for fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


@lru_cache(maxsize=1)
def event_classes() -> dict[str, type[Event]]:
    """Every event class by name (the package imports all of its modules first, so the catalogue is complete)."""
    found: dict[str, type[Event]] = {}
    todo = list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        # The catalogue is this package's: an event a test defines for the plumbing is not part of it.
        if cls.topic and not cls.__name__.startswith("_") and cls.__module__.startswith(__package__ + "."):
            found[cls.__name__] = cls
    return dict(sorted(found.items()))


def event_class(name: str) -> type[Event] | None:
    return event_classes().get(name)


def parse(cls: type[S], data: dict[str, Any]) -> S:
    """Data (an event's, or a stored snapshot of one) as its model, read tolerantly (pydantic.ValidationError when it
    cannot be)."""
    return cls.model_validate(data, context=TOLERANT)


__all__ = ["Event", "FacilityId", "Id", "Instant", "Npi", "Shape", "TOLERANT", "VisitNumber",
           "event_class", "event_classes", "parse"]
