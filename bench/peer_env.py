"""A virtualenv of its own for each peer product (Open WebUI, LiteLLM, ...), created once and reused.

Peers are large and pin their own versions of everything, so they never go into Parley's ``.venv``:
each lives in ``~/.cache/parley/bench-peers/NAME`` (``PARLEY_BENCH_PEERS`` moves the parent). A
stamp file records what was installed; the environment is reused while the requested packages are
the same, and rebuilt from scratch when they change or a previous install was cut short.

``python -m bench.peer_env NAME`` installs one peer (what ``make bench-peers`` calls first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PEERS_HOME = Path(os.environ.get("PARLEY_BENCH_PEERS", Path.home() / ".cache" / "parley" / "bench-peers"))
_STAMP = "parley-peer.json"


class PeerEnvError(RuntimeError):
    pass


@dataclass(frozen=True)
class PeerSpec:
    """What to install for a peer: ``packages`` (pip requirement strings) after ``first`` (installed alone
    beforehand, so a heavy dependency comes from the wheel we choose and not the newest on the index)."""

    name: str
    packages: tuple[str, ...]
    first: tuple[str, ...] = ()
    version_of: str = ""  # the distribution whose version the results report
    pip_options: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        described = json.dumps([self.packages, self.first, self.pip_options])
        return hashlib.sha256(described.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PeerEnv:
    spec: PeerSpec
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def installed(self) -> bool:
        stamp = self.path / _STAMP
        if not stamp.is_file() or not self.python.exists():
            return False
        return bool(json.loads(stamp.read_text()).get("fingerprint") == self.spec.fingerprint())

    def version(self) -> str:
        """The installed version of the peer's main distribution (``unknown`` if it cannot be read)."""
        name = self.spec.version_of or self.spec.name
        done = subprocess.run(  # noqa: S603 - the peer's own interpreter, fixed arguments
            [str(self.python), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or "unknown"


def environment(spec: PeerSpec, home: Path = PEERS_HOME) -> PeerEnv:
    return PeerEnv(spec, home / spec.name)


def ensure(spec: PeerSpec, home: Path = PEERS_HOME, *, log: Path | None = None) -> PeerEnv:
    """The peer's environment, installed now unless an identical install is already there."""
    env = environment(spec, home)
    if env.installed():
        return env
    if env.path.exists():
        if not (env.path / _STAMP).is_file():
            raise PeerEnvError(f"{env.path} exists but was not made by bench.peer_env: move it away first")
        shutil.rmtree(env.path)  # a different or unfinished install of ours: start clean rather than patch it
    env.path.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env.path)
    (env.path / _STAMP).write_text(json.dumps({"fingerprint": None}))  # ours, not finished yet
    for group in (spec.first, spec.packages):
        if group:
            _pip(env, [*spec.pip_options, *group], log)
    (env.path / _STAMP).write_text(json.dumps({"fingerprint": spec.fingerprint(), "packages": spec.packages}))
    return env


def _pip(env: PeerEnv, args: Sequence[str], log: Path | None) -> None:
    command = [str(env.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args]
    print("  " + " ".join(command), flush=True)
    if log is None:
        subprocess.run(command, check=True)  # noqa: S603 - the peer's own pip, arguments from its spec
        return
    with log.open("a") as out:
        subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def main(argv: Sequence[str] | None = None) -> int:
    from bench.peers import registry

    parser = argparse.ArgumentParser(prog="python -m bench.peer_env", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", choices=sorted(registry.PEER_SPECS))
    args = parser.parse_args(argv)
    for name in args.names:
        spec = registry.PEER_SPECS[name]
        env = environment(spec)
        if env.installed():
            print(f"{name}: reusing {env.path}")
            continue
        print(f"{name}: installing into {env.path} (a few minutes, once)", flush=True)
        ensure(spec)
        print(f"{name}: {spec.version_of or name} {env.version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
