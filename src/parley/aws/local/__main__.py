"""``python -m parley.aws.local`` (``make aws-local``): the serverless system on this machine, with the web app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import logging.config
import os
import shlex
import tempfile
from pathlib import Path

from parley.aws.local.deployment import run_local_deployment
from parley.config import Settings
from parley.server.log_setup import log_config


async def serve(host: str, port: int, web_dir: Path | None, cli_env_file: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="parley-aws-local-") as data_dir:
        async with run_local_deployment(host=host, port=port, data_dir=Path(data_dir), web_dir=web_dir) as deployment:
            env = " ".join(f"{name}={shlex.quote(value)}" for name, value in deployment.cli_env().items())
            log = logging.getLogger("parley.aws.local")
            log.info(
                "the serverless path is running at %s (WebSocket %s; the HTTP API without CloudFront %s)",
                deployment.url,
                deployment.ws_url,
                deployment.api_url,
            )
            log.warning(
                "create the first account in the browser with a one-time link from:  %s .venv/bin/parley setup-code "
                "--store dynamodb --url %s  (or on the command line: %s .venv/bin/parley users add YOURNAME --admin "
                "--store dynamodb)",
                env,
                deployment.url,
                env,
            )
            log.info("data lives in moto's memory and is gone when this stops")
            if cli_env_file is not None:
                _write_atomically(cli_env_file, json.dumps(deployment.cli_env(), indent=2))
            await asyncio.Event().wait()


def _write_atomically(path: Path, text: str) -> None:
    """A launcher polls for this file: it must never see it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m parley.aws.local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--cli-env-file",
        type=Path,
        help="once up, write here (JSON) the environment for `parley users add` against this deployment",
    )
    args = parser.parse_args()
    # PARLEY_LOG_LEVEL and PARLEY_WEB_DIR (over the checkout's web/dist) work as for `parley serve`.
    settings = Settings.from_env()
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    web_dir = settings.web_dir
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, web_dir, args.cli_env_file))


if __name__ == "__main__":
    main()
