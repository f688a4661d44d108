"""Which endpoints a configuration offers: environment, models file, local model; and the registry over them."""

from __future__ import annotations

import pytest

from parley.config import Settings
from parley.core.providers.base import ModelInfo
from parley.core.providers.endpoints import endpoints_from_settings, load_models_file
from parley.core.providers.registry import ModelRegistry, provider_factory
from parley.errors import ConfigError, UnknownModel
from parley.testing.mock_provider import MockProvider


def test_nothing_configured_means_the_local_model_only():
    endpoints = endpoints_from_settings(Settings(), {})
    assert [(e.name, e.type) for e in endpoints] == [("local", "local")]


def test_openai_settings_come_first_and_discover_models():
    settings = Settings(openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-test")
    endpoints = endpoints_from_settings(settings, {})
    assert [e.name for e in endpoints] == ["openai", "local"]
    assert endpoints[0].base_url == "http://127.0.0.1:9/v1" and endpoints[0].api_key == "sk-test"
    assert endpoints[0].discovers_models


def test_models_file_endpoints(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text(
        """
[[endpoints]]
name = "ollama"
base_url = "http://127.0.0.1:11434/v1"
models = ["llama3.2", { id = "qwen2.5", context_window = 32768, display_name = "Qwen" }]

[[endpoints]]
name = "other"
type = "openai"
base_url = "http://127.0.0.1:8001/v1"
api_key_env = "OTHER_KEY"
"""
    )
    ollama, other = load_models_file(path, {"OTHER_KEY": "k-123"})
    assert (ollama.type, ollama.api_key) == ("openai", None)
    assert [(m.id, m.context_window) for m in ollama.models] == [("llama3.2", None), ("qwen2.5", 32768)]
    assert ollama.models[1].display_name == "Qwen"
    assert other.api_key == "k-123" and other.discovers_models


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("not [valid", {}, "not valid TOML"),
        ("endpoints = 3", {}, "array of tables"),
        ("[[endpoints]]\ntype = 'openai'", {}, "needs a 'name'"),
        ("[[endpoints]]\nname = 'x'\napi_key_env = 'MISSING_KEY'", {}, "MISSING_KEY"),
        ("[[endpoints]]\nname = 'x'\nmodels = [3]", {}, "model entry"),
    ],
)
def test_bad_models_files_are_clear_config_errors(tmp_path, text, env, message):
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_models_file(path, env)


def test_missing_models_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_models_file(tmp_path / "nope.toml", {})


def test_unknown_provider_type_is_a_config_error():
    with pytest.raises(ConfigError, match="Unknown provider type 'carrier-pigeon'"):
        provider_factory("carrier-pigeon")


async def test_registry_keeps_the_first_of_duplicate_model_ids():
    first, second = MockProvider(name="first"), MockProvider(name="second")
    registry = ModelRegistry()
    registry.add_provider(first, [ModelInfo(id="m", provider="first")])
    registry.add_provider(second, [ModelInfo(id="m", provider="second"), ModelInfo(id="n", provider="second")])
    assert registry.get("m").provider is first
    assert [m.id for m in registry.list_models()] == ["m", "n"]
    assert registry.default_model == "m"
    with pytest.raises(UnknownModel):
        registry.get("zzz")
