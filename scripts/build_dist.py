"""Build Parley's wheel and sdist with the built web app inside (run by `make dist`, and by tests/test_package.py).

The web app (``web/dist``, from ``make web-build``) is copied to ``src/parley/web_dist`` for the build, where the
package data globs of pyproject.toml pick it up, and removed afterwards: it is never committed. ``python -m build``
makes the sdist, then the wheel from the sdist (so a wheel built from the sdist is known to carry the app too), each
in an isolated environment with the setuptools pyproject.toml asks for (fetched from the package index once, then
from pip's cache): the venv's own setuptools is whatever ``python -m venv`` bundled, too old for this pyproject.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB_DIST = ROOT / "web" / "dist"
PACKAGED_WEB = ROOT / "src" / "parley" / "web_dist"


def build(output: Path, *, sdist: bool = True, web_dist: Path = WEB_DIST) -> list[Path]:
    """The files built into ``output``: the wheel, then the sdist."""
    if not (web_dist / "index.html").is_file():
        raise SystemExit(f"{web_dist}/index.html is missing: run `make web-build` first")
    output.mkdir(parents=True, exist_ok=True)
    before = set(output.iterdir())
    shutil.rmtree(PACKAGED_WEB, ignore_errors=True)
    shutil.copytree(web_dist, PACKAGED_WEB)
    kinds = [] if sdist else ["--wheel"]
    try:
        subprocess.run(  # noqa: S603 - our own build
            [sys.executable, "-m", "build", *kinds, "--outdir", str(output), str(ROOT)],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    finally:
        shutil.rmtree(PACKAGED_WEB, ignore_errors=True)
    return sorted(set(output.iterdir()) - before, key=lambda path: not path.name.endswith(".whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "dist", help="where the files go (default dist/)")
    parser.add_argument("--no-sdist", action="store_true", help="build the wheel only")
    args = parser.parse_args(argv)
    for path in build(args.output.resolve(), sdist=not args.no_sdist):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
