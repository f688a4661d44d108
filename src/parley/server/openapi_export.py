"""Write the server's OpenAPI spec to a file, for the web app's generated API types.

    python -m parley.server.openapi_export web/openapi.json

Nothing is started or opened: the app is assembled from default settings and asked for its spec.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parley.config import Settings
from parley.server.app import create_app


def openapi_spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(Settings(web_dir=None)).openapi()
    return spec


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m parley.server.openapi_export OUT.json", file=sys.stderr)
        return 2
    text = json.dumps(openapi_spec(), indent=2, sort_keys=True) + "\n"
    Path(args[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
