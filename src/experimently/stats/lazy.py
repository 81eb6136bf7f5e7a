"""A module imported on first attribute use, so a process pays for heavy libraries (scipy) only when a
request needs them: the statistics stack costs seconds of CPU to import and most processes (an API
instance answering evaluations) never touch it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands in for ``import name``; the first attribute read imports the module, and every attribute
    read is then kept on this object so later reads are plain attribute hits."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name
        self._lazy_module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_lazy_"):
            raise AttributeError(attr)
        if self._lazy_module is None:
            self._lazy_module = importlib.import_module(self._lazy_name)
        value = getattr(self._lazy_module, attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        state = "loaded" if self._lazy_module is not None else "not loaded"
        return f"<lazy module {self._lazy_name!r} ({state})>"


def lazy(name: str) -> Any:
    """``special = lazy("scipy.special")`` instead of ``from scipy import special``."""
    return LazyModule(name)
