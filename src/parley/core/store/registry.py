"""Store backends by name (``sqlite`` here; others register the same way)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from parley.config import Settings
from parley.core.store.base import Stores
from parley.errors import ConfigError

StoreBackend = Callable[[Settings], AbstractAsyncContextManager[Stores]]

_BACKENDS: dict[str, StoreBackend] = {}


def store_backend(name: str) -> Callable[[StoreBackend], StoreBackend]:
    def register(factory: StoreBackend) -> StoreBackend:
        _BACKENDS[name] = factory
        return factory

    return register


def open_stores(name: str, settings: Settings) -> AbstractAsyncContextManager[Stores]:
    """``async with open_stores("sqlite", settings) as stores:`` opens and later closes a backend."""
    _load_builtins()
    if name not in _BACKENDS:
        _load_plugin(name)
    try:
        backend = _BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise ConfigError(f"Unknown store {name!r} (known: {known})") from None
    return backend(settings)


def _load_builtins() -> None:
    from parley.core.store import sqlite  # noqa: F401


def _load_plugin(name: str) -> None:
    """Backends outside the core (e.g. DynamoDB) register through the ``parley.stores`` entry points."""
    for entry_point in importlib.metadata.entry_points(group="parley.stores", name=name):
        entry_point.load()


__all__ = ["open_stores", "store_backend"]
