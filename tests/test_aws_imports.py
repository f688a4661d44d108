"""Cold starts stay small: each handler module imports only what its function uses. None but the HTTP API imports
the web framework or a model SDK; the authorizer and the light WebSocket routes import neither the chat pipeline nor
the files service (nor ``parley.runtime``, which builds everything); libraries that serve one path (httpx for an
embedding model, Pillow for an image) load when that path first runs, not with any module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["fastapi", "starlette", "uvicorn", "aiohttp", "openai", "llama_cpp", "mangum"]
ONE_PATH = ["httpx", "PIL.Image"]
RUNTIME = "parley.runtime"  # the composition root of the local server and the HTTP API: every service
CHAT_PIPELINE = "parley.core.chat.service"
FILES_SERVICE = "parley.core.files.service"
HISTORY_IMPORTS = "parley.core.history.importer"
TOKENS = "jwt"  # checking and signing tokens: the authorizer and $connect only
LIGHT = [RUNTIME, CHAT_PIPELINE, FILES_SERVICE, HISTORY_IMPORTS]

# Handler module -> what must not be in sys.modules once it is imported.
NOT_IMPORTED = {
    "authorizer": [*HEAVY, *ONE_PATH, *LIGHT, "parley.ws_dispatch"],
    "ws_connect": [*HEAVY, *ONE_PATH, *LIGHT],
    "ws_disconnect": [*HEAVY, *ONE_PATH, *LIGHT, TOKENS],
    "ws_stop": [*HEAVY, *ONE_PATH, *LIGHT, TOKENS],
    "ws_default": [*HEAVY, *ONE_PATH, *LIGHT, TOKENS],
    "session_end": [*HEAVY, *ONE_PATH, *LIGHT, TOKENS],
    "import_worker": [*HEAVY, *ONE_PATH, RUNTIME, CHAT_PIPELINE, FILES_SERVICE, TOKENS],
    "file_worker": [*HEAVY, *ONE_PATH, RUNTIME, CHAT_PIPELINE, HISTORY_IMPORTS, TOKENS],
    "ws_sendprompt": [*HEAVY, *ONE_PATH, RUNTIME, FILES_SERVICE, HISTORY_IMPORTS, TOKENS],
    "worker": [*HEAVY, *ONE_PATH, RUNTIME, FILES_SERVICE, HISTORY_IMPORTS, TOKENS],
}


def imported_after(module: str, candidates: list[str]) -> list[str]:
    """Which of ``candidates`` a fresh interpreter holds after importing ``module`` (whose ``handler`` is callable)."""
    probe = (
        f"import json, sys; import {module} as h; "
        f"assert callable(h.handler); print(json.dumps([m for m in {candidates!r} if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize("handler", sorted(NOT_IMPORTED))
def test_handler_module_imports_only_what_its_function_uses(handler):
    assert imported_after(f"parley.aws.handlers.{handler}", NOT_IMPORTED[handler]) == []


def test_the_probe_sees_what_a_handler_does_import():
    # The HTTP API's function serves the whole app: the framework, the runtime and the chat pipeline load with it.
    assert imported_after("parley.aws.handlers.http_api", ["fastapi", RUNTIME, CHAT_PIPELINE]) == [
        "fastapi",
        RUNTIME,
        CHAT_PIPELINE,
    ]


def test_one_path_libraries_load_when_their_path_runs():
    probe = (
        "import io, json, sys\n"
        "from parley.core.files.images import PillowImages\n"
        "from parley.core.retrieval.embeddings import OpenAIEmbedder\n"
        "before = [m for m in ('PIL.Image', 'httpx') if m in sys.modules]\n"
        "OpenAIEmbedder('m', 'http://127.0.0.1:9', None)\n"
        "images = PillowImages()\n"
        "try:\n"
        "    images.process(b'not an image')\n"
        "except Exception as exc:\n"
        "    refused = type(exc).__name__\n"
        "print(json.dumps([before, 'PIL.Image' in sys.modules, refused]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [[], True, "InvalidImage"]
