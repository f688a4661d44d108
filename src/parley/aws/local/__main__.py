"""``python -m parley.aws.local`` (``make aws-local``): the serverless system on this machine, with the web app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.config
import shlex
import tempfile
from pathlib import Path

from parley.aws.local.deployment import run_local_deployment
from parley.config import Settings
from parley.server.log_setup import log_config


async def serve(host: str, port: int, web_dir: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="parley-aws-local-") as data_dir:
        async with run_local_deployment(host=host, port=port, data_dir=Path(data_dir), web_dir=web_dir) as deployment:
            env = " ".join(f"{name}={shlex.quote(value)}" for name, value in deployment.cli_env().items())
            log = logging.getLogger("parley.aws.local")
            log.info("the serverless path is running at %s (WebSocket %s)", deployment.url, deployment.ws_url)
            log.warning("create a user with:  %s .venv/bin/parley users add YOURNAME --store dynamodb", env)
            log.info("data lives in moto's memory and is gone when this stops")
            await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m parley.aws.local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.config.dictConfig(log_config("INFO"))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, Settings().web_dir))


if __name__ == "__main__":
    main()
