"""The OpenAI-compatible function: the ``/v1`` app served by uvicorn inside Lambda, behind a function URL that
streams (``InvokeMode: RESPONSE_STREAM``).

API Gateway's HTTP API buffers a function's whole answer, which would turn a streamed completion into one late
block. Lambda streams responses through a function URL, and for Python through the Lambda Web Adapter: a layer
whose extension receives each invocation, makes it an HTTP request to this server on loopback, and streams the
server's response back (``AWS_LWA_INVOKE_MODE=response_stream``). The function's handler is the startup script
``openai_api.sh`` at the code's root (written by ``scripts/build_lambda_bundle.py``), which runs ``main`` below.

The same app runs in ``make aws-local`` (``aws/local/function_url.py``), over the emulated table and behind the
emulated CloudFront's ``/v1/*`` behaviour.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from parley.config import Settings

# The port the Lambda Web Adapter forwards to (its AWS_LWA_PORT, default 8080).
PORT_ENV = "AWS_LWA_PORT"
DEFAULT_PORT = 8080


def function_settings(env: Mapping[str, str]) -> Settings:
    """Settings from the function's environment, with its secrets (CloudFront's origin secret, the OpenAI key)."""
    from parley.aws.clients import aws_client
    from parley.aws.secrets import resolve_secrets

    settings = Settings.from_env(env)
    return resolve_secrets(settings, aws_client("secretsmanager", settings))


def main() -> None:
    import uvicorn

    from parley.server.openai_app import create_openai_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = function_settings(os.environ)
    port = int(os.environ.get(PORT_ENV) or os.environ.get("PORT") or DEFAULT_PORT)
    # One request at a time reaches an execution environment; uvicorn's defaults suit that. Its access log is off:
    # Lambda logs every invocation, and nothing of a request (its key least of all) needs to be in a log line.
    uvicorn.run(create_openai_app(settings), host="127.0.0.1", port=port, access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
