"""Cold starts stay small: the WebSocket, worker and session-end handlers import neither the web framework
nor a model SDK when their module loads (they build what they need on the first invocation)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LIGHT_HANDLERS = [
    "authorizer",
    "ws_connect",
    "ws_disconnect",
    "ws_sendprompt",
    "ws_stop",
    "ws_default",
    "worker",
    "session_end",
    "import_worker",
    "file_worker",
]
HEAVY = ["fastapi", "starlette", "uvicorn", "openai", "llama_cpp", "mangum"]


@pytest.mark.parametrize("handler", LIGHT_HANDLERS)
def test_handler_module_imports_stay_light(handler):
    probe = (
        f"import json, sys; import parley.aws.handlers.{handler} as h; "
        f"assert callable(h.handler); print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_the_http_handler_is_the_fastapi_app():
    probe = "import sys; import parley.aws.handlers.http_api as h; print('fastapi' in sys.modules, callable(h.handler))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True"]
