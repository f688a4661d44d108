"""Checks of what lives on disk: the data directory, the signing secret, the web app build."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from parley.config import ENV_DATA_DIR, ENV_JWT_SECRET, ENV_WEB_DIR, Settings
from parley.core.auth.secret import check_secret
from parley.doctor.findings import Finding, broken, ok, warning
from parley.errors import ConfigError

DATA_DIR = "data directory"
SECRET = "signing secret"  # noqa: S105 - a heading, not a secret
WEB_APP = "web app"


def check_data_dir(settings: Settings) -> list[Finding]:
    if settings.store != "sqlite":
        return [ok(DATA_DIR, f"not used by the {settings.store} store")]
    path = settings.data_dir.resolve()
    if not path.exists():
        parent = _existing_parent(path)
        if os.access(parent, os.W_OK | os.X_OK):
            return [ok(DATA_DIR, f"{path} does not exist yet; `parley serve` creates it (0700)")]
        return [broken(DATA_DIR, f"{path} does not exist and {parent} is not writable", _choose_dir_fix())]
    if not path.is_dir():
        return [broken(DATA_DIR, f"{path} is not a directory", _choose_dir_fix())]
    if not os.access(path, os.W_OK | os.X_OK):
        return [
            broken(
                DATA_DIR,
                f"{path} is not writable by this user",
                f"chown the directory to this user, or {_choose_dir_fix()}",
            )
        ]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o022:
        return [
            broken(
                DATA_DIR,
                f"{path} is writable by other users (mode {mode:o}): they could replace the database or the secret",
                f"chmod 700 {path}",
            )
        ]
    if mode & 0o055:
        return [warning(DATA_DIR, f"{path} can be listed by other users (mode {mode:o})", f"chmod 700 {path}")]
    return [ok(DATA_DIR, f"{path} is private (mode {mode:o})")]


def check_secret_file(settings: Settings) -> list[Finding]:
    if settings.jwt_secret is not None:
        try:
            check_secret(settings.jwt_secret, ENV_JWT_SECRET)
        except ConfigError as error:
            return [broken(SECRET, error.message, f"set {ENV_JWT_SECRET} to 64 random hex digits, or unset it")]
        return [ok(SECRET, f"given by {ENV_JWT_SECRET}")]
    if settings.jwt_secret_arn:
        return [ok(SECRET, "read from AWS Secrets Manager (not checked here)")]
    path = settings.jwt_secret_path.resolve()
    if not path.exists():
        return [ok(SECRET, f"{path} does not exist yet; `parley serve` generates it (0600)")]
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        return [broken(SECRET, f"{path} cannot be read: {error}", f"delete {path} to have a new one generated")]
    try:
        check_secret(secret, str(path))
    except ConfigError as error:
        return [broken(SECRET, error.message, f"delete {path} to have a new one generated (signs everyone out)")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [
            broken(
                SECRET,
                f"{path} is readable by other users (mode {mode:o}): whoever read it can sign in as anyone",
                f"chmod 600 {path}, then delete it to have a new one generated (signs everyone out)",
            )
        ]
    return [ok(SECRET, f"{path} is strong and private (mode {mode:o})")]


def check_web_app(settings: Settings) -> list[Finding]:
    if settings.web_dir is None:
        return [
            warning(
                WEB_APP,
                "no web app build was found: the server answers the API only",
                f"run `make web-build` in a checkout, install the packaged wheel, or set {ENV_WEB_DIR}",
            )
        ]
    index = settings.web_dir / "index.html"
    if not index.is_file():
        return [broken(WEB_APP, f"{index} is missing", f"run `make web-build`, or set {ENV_WEB_DIR} to a built app")]
    return [ok(WEB_APP, f"served from {settings.web_dir}")]


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _choose_dir_fix() -> str:
    return f"set {ENV_DATA_DIR} (or --data-dir) to a directory this user owns"
