"""Provider types and the models they serve, found by name, never by if/else.

Provider types register themselves with ``@provider_type("name")``; built-ins use the same hook
as any other. ``ModelRegistry`` maps a model id to the provider instance that serves it.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from parley.config import Settings
from parley.core.providers.base import ModelInfo, Provider
from parley.core.providers.endpoints import Endpoint
from parley.errors import ConfigError, ModelCannotSee, ParleyError, UnknownModel

log = logging.getLogger(__name__)

ProviderFactory = Callable[[Endpoint, Settings], Provider]

_PROVIDER_TYPES: dict[str, ProviderFactory] = {}


def provider_type(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider factory under a type name used by endpoints."""

    def register(factory: ProviderFactory) -> ProviderFactory:
        _PROVIDER_TYPES[name] = factory
        return factory

    return register


def provider_factory(name: str) -> ProviderFactory:
    _load_builtins()
    if name not in _PROVIDER_TYPES:
        # Provider types outside the core (e.g. Bedrock) register through the ``parley.providers`` entry points.
        for entry_point in importlib.metadata.entry_points(group="parley.providers", name=name):
            entry_point.load()
    try:
        return _PROVIDER_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(_PROVIDER_TYPES))
        raise ConfigError(f"Unknown provider type {name!r} (known: {known})") from None


def _load_builtins() -> None:
    # Importing the modules runs their @provider_type registrations; heavy libraries load lazily inside them.
    from parley.core.providers import local, openai_compat  # noqa: F401


@dataclass(frozen=True)
class RegisteredModel:
    info: ModelInfo
    provider: Provider


class ModelRegistry:
    def __init__(self) -> None:
        self._models: dict[str, RegisteredModel] = {}
        self._providers: list[Provider] = []

    def add_provider(self, provider: Provider, models: Iterable[ModelInfo]) -> None:
        self._providers.append(provider)
        for info in models:
            if info.id in self._models:
                log.warning("model %r is offered by more than one endpoint; keeping the first", info.id)
                continue
            self._models[info.id] = RegisteredModel(info=info, provider=provider)

    def get(self, model_id: str) -> RegisteredModel:
        try:
            return self._models[model_id]
        except KeyError:
            raise UnknownModel(f"Model {model_id!r} is not available.") from None

    def require_vision(self, model_id: str) -> RegisteredModel:
        """The model, if it can see images; else ``ModelCannotSee`` naming it and a model here that can."""
        model = self.get(model_id)
        if not model.info.vision:
            seeing = next((entry.info.label for entry in self._models.values() if entry.info.vision), None)
            raise ModelCannotSee(model.info.label, seeing)
        return model

    def list_models(self) -> list[ModelInfo]:
        return [entry.info for entry in self._models.values()]

    @property
    def default_model(self) -> str | None:
        return next(iter(self._models), None)

    @property
    def providers(self) -> list[Provider]:
        return list(self._providers)

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()


async def build_model_registry(settings: Settings, endpoints: Iterable[Endpoint]) -> ModelRegistry:
    """Create one provider per endpoint and collect its models; an endpoint that fails discovery is skipped."""
    registry = ModelRegistry()
    for endpoint in endpoints:
        provider = provider_factory(endpoint.type)(endpoint, settings)
        try:
            models = await provider.list_models()
        except ParleyError as exc:
            log.warning("endpoint %r: could not list models (%s); it is skipped", endpoint.name, exc.message)
            await provider.aclose()
            continue
        registry.add_provider(provider, models)
        log.info("endpoint %r: %d model(s): %s", endpoint.name, len(models), ", ".join(m.id for m in models))
    return registry
