"""Validation of built FHIR resources by shape: the R4B model validates a body of a new shape whole; a body of a
shape it accepted before needs only its text values checked, each by the validator the model applies to that element.

Why that is the same verdict: besides each element's own value (its primitive type's pattern or parse), the models
check only structure (which elements are present, unknown ones refused, one of a choice, no nulls in lists), and the
shape is exactly that structure, with every value that is not text (numbers, booleans, nulls) and every
`resourceType` as it is. A text value a shortcut refuses goes to the model, whose verdict (and error) stands.
"""
from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import TypeAdapter

Shape = tuple
TEXT = object()  # a text value's place in a shape
_ADAPTERS: dict[tuple[type, str, bool], TypeAdapter] = {}


def shape(node: Any, texts: list[str]) -> Any:
    """The structure of a JSON value, collecting its text values (in document order) into `texts`."""
    if isinstance(node, dict):
        return tuple((k, v if k == "resourceType" else shape(v, texts)) for k, v in node.items())
    if isinstance(node, list):
        return ("[]", *(shape(item, texts) for item in node))
    if isinstance(node, str):
        texts.append(node)
        return TEXT
    return (type(node).__name__, node)


def _element(annotation: Any, item: bool) -> Any:
    """The annotation without Optional (and without List for an item of a list)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if item:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _adapter(model: type, key: str, item: bool) -> TypeAdapter:
    """The validator the model applies to a text value of element `key` (an item of it when `item`)."""
    found = _ADAPTERS.get((model, key, item))
    if found is None:
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        found = _ADAPTERS[(model, key, item)] = TypeAdapter(_element(fields[key].annotation, item))
    return found


def text_checks(instance: Any, node: dict, checks: list[TypeAdapter]) -> None:
    """The validators of a validated body's text values, in the order `shape` collects them."""
    names = {f.alias or name: name for name, f in type(instance).model_fields.items()}
    for key, value in node.items():
        if key == "resourceType":
            continue
        child = getattr(instance, names[key])
        if isinstance(value, dict):
            text_checks(child, value, checks)
        elif isinstance(value, list):
            for child_item, item in zip(child, value):
                if isinstance(item, dict):
                    text_checks(child_item, item, checks)
                elif isinstance(item, str):
                    checks.append(_adapter(type(instance), key, True))
        elif isinstance(value, str):
            checks.append(_adapter(type(instance), key, False))


class ShapeCheck:
    """Validates bodies as their R4B models would, each shape by the model once (kept for `max_shapes` shapes)."""

    def __init__(self, models: dict[str, type], max_shapes: int = 500, max_texts: int = 20_000):
        self.models, self.max_shapes, self.max_texts = models, max_shapes, max_texts
        self.shapes: dict[Shape, list[TypeAdapter]] = {}
        self.texts: set[tuple[int, str]] = set()  # (validator, value) pairs that passed: constants, mostly
        self.whole = 0  # bodies the model validated whole

    def validate(self, body: dict) -> None:
        """Raise the model's ValidationError when the body is not valid FHIR."""
        texts: list[str] = []
        key = shape(body, texts)
        checks = self.shapes.get(key)
        if checks is None or not self._texts_pass(checks, texts):
            self.whole += 1
            instance = self.models[body["resourceType"]].model_validate(body)
            if checks is None:
                if len(self.shapes) >= self.max_shapes:
                    self.shapes.clear()
                found: list[TypeAdapter] = []
                text_checks(instance, body, found)
                if len(found) == len(texts):  # else (text where no element takes it) the model validates each time
                    self.shapes[key] = found

    def _texts_pass(self, checks: list[TypeAdapter], texts: list[str]) -> bool:
        if len(self.texts) >= self.max_texts:
            self.texts.clear()
        for check, text in zip(checks, texts, strict=True):
            seen = (id(check), text)
            if seen in self.texts:
                continue
            try:
                check.validate_python(text)
            except ValueError:
                return False
            self.texts.add(seen)
        return True
