"""Where models come from: the environment's OpenAI settings and an optional models file (TOML).

A models file lists endpoints, each served by a provider type from the registry:

    [[endpoints]]
    name = "ollama"
    type = "openai"                      # any registered provider type
    base_url = "http://127.0.0.1:11434/v1"
    api_key_env = "OLLAMA_API_KEY"       # optional: the variable holding its key
    models = ["llama3.2", { id = "qwen2.5", context_window = 32768 }, { id = "my-vlm", vision = true }]

An endpoint with no ``models`` list asks the server's ``/models`` endpoint. ``vision`` says whether a model takes
images; without it, known model families are recognised by id (``parley.core.providers.vision``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley.config import Settings
from parley.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    id: str
    context_window: int | None = None
    display_name: str = ""
    vision: bool | None = None  # None: as the provider knows the model id


@dataclass(frozen=True)
class Endpoint:
    name: str
    type: str
    base_url: str | None = None
    api_key: str | None = None
    models: tuple[ModelEntry, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def discovers_models(self) -> bool:
        return not self.models


def endpoints_from_settings(settings: Settings, env: Mapping[str, str]) -> list[Endpoint]:
    """The endpoints this server should offer, in order of preference (the first model is the default)."""
    endpoints: list[Endpoint] = []
    if settings.openai_api_key or settings.openai_base_url:
        endpoints.append(
            Endpoint(
                name="openai",
                type="openai",
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,
            )
        )
    if settings.bedrock_models:
        endpoints.append(
            Endpoint(name="bedrock", type="bedrock", models=tuple(ModelEntry(id=m) for m in settings.bedrock_models))
        )
    if settings.models_file is not None:
        endpoints.extend(load_models_file(settings.models_file, env))
    if settings.local_model:
        endpoints.append(Endpoint(name="local", type="local"))
    return endpoints


def load_models_file(path: Path, env: Mapping[str, str]) -> list[Endpoint]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Models file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Models file {path} is not valid TOML: {exc}") from exc
    raw_endpoints = data.get("endpoints", [])
    if not isinstance(raw_endpoints, list):
        raise ConfigError(f"{path}: 'endpoints' must be an array of tables ([[endpoints]])")
    return [_parse_endpoint(raw, path, env) for raw in raw_endpoints]


def _parse_endpoint(raw: Any, path: Path, env: Mapping[str, str]) -> Endpoint:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{path}: every endpoint needs a 'name'")
    name = raw["name"]
    api_key_env = raw.get("api_key_env")
    api_key = env.get(api_key_env) if isinstance(api_key_env, str) else None
    if isinstance(api_key_env, str) and not api_key:
        raise ConfigError(f"{path}: endpoint {name!r} reads its key from ${api_key_env}, which is not set")
    known = {"name", "type", "base_url", "api_key_env", "models"}
    return Endpoint(
        name=name,
        type=str(raw.get("type", "openai")),
        base_url=raw.get("base_url"),
        api_key=api_key,
        models=tuple(_parse_model(m, path, name) for m in raw.get("models", [])),
        options={k: v for k, v in raw.items() if k not in known},
    )


def _parse_model(raw: Any, path: Path, endpoint: str) -> ModelEntry:
    if isinstance(raw, str):
        return ModelEntry(id=raw)
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        window = raw.get("context_window")
        vision = raw.get("vision")
        if vision is not None and not isinstance(vision, bool):
            raise ConfigError(f"{path}: model {raw['id']!r} of endpoint {endpoint!r}: 'vision' must be true or false")
        return ModelEntry(
            id=raw["id"],
            context_window=int(window) if window is not None else None,
            display_name=str(raw.get("display_name", "")),
            vision=vision,
        )
    raise ConfigError(f"{path}: endpoint {endpoint!r} has a model entry that is neither a name nor a table with 'id'")
