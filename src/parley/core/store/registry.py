"""Store backends by name (``sqlite`` here; others register the same way)."""

from __future__ import annotations

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
    try:
        backend = _BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise ConfigError(f"Unknown store {name!r} (known: {known})") from None
    return backend(settings)


def _load_builtins() -> None:
    from parley.core.store import sqlite  # noqa: F401


__all__ = ["open_stores", "store_backend"]
