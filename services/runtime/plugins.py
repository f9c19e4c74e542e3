"""The services, found by discovery: each installs an entry point in the group `peerbridge.services`.

The runtime never imports a service by name; a service contributes what the shared commands need by convention:
`migrations/` beside its package, `app.create_app()`, a settings class in `settings.py`, and optionally `cli.main`
for commands of its own (`peerbridge <service> ...`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

GROUP = "peerbridge.services"


@dataclass(frozen=True)
class ServicePlugin:
    """One service as the shared commands see it."""

    name: str
    package: str

    @property
    def migrations(self) -> Path:
        return Path(importlib.import_module(self.package).__file__).with_name("migrations")

    def module(self, name: str) -> ModuleType | None:
        """The service's module `name` (app, settings, cli), or None when it has none."""
        try:
            return importlib.import_module(f"{self.package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.package}.{name}":
                raise
            return None

    def create_app(self):
        return self.module("app").create_app()

    def settings(self):
        """The service's settings, read from the environment as the service reads them."""
        from .settings import CommonSettings

        module = self.module("settings")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, CommonSettings) and value is not CommonSettings \
                    and value.__module__ == module.__name__:
                return value()
        raise LookupError(f"{self.name} has no settings class")


@lru_cache(maxsize=1)
def discover() -> dict[str, ServicePlugin]:
    """Every installed service, by name, in a stable order."""
    found = {ep.name: ServicePlugin(ep.name, ep.value) for ep in entry_points(group=GROUP)}
    if not found:
        raise RuntimeError(f"no services installed (entry point group {GROUP}): run pip install -e .")
    return dict(sorted(found.items()))
