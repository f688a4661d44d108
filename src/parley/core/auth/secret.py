"""The JWT signing secret: given by the environment, or generated once and kept in the data dir (0600)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from parley.core.private_files import FILE_MODE, make_private, private_directory
from parley.errors import ConfigError

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
# Values seen as defaults in templates and tutorials; a server signing with one of them is forgeable.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "secret",
        "changeme",
        "changethis",
        "change-me",
        "your-secret-key",
        "your_secret_key",
        "supersecret",
        "super-secret-key",
        "jwt-secret",
        "mysecret",
        "default",
        "password",
        "parley",
        "development",
        "please-change-me-to-a-long-random-value",
    }
)


def check_secret(secret: str, source: str) -> str:
    if secret.strip().lower() in KNOWN_DEFAULT_SECRETS:
        raise ConfigError(f"The JWT secret from {source} is a well-known default; set a random one.")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"The JWT secret from {source} is too short ({len(secret.encode())} bytes);"
            f" use at least {MIN_SECRET_BYTES} random bytes, e.g. `python -c 'import secrets;"
            " print(secrets.token_hex(32))'`."
        )
    return secret


def load_or_create_secret(explicit: str | None, path: Path) -> str:
    """The explicit secret when given; else the one in ``path``, created with 256 random bits if missing."""
    if explicit is not None:
        return check_secret(explicit, "PARLEY_JWT_SECRET")
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    else:
        make_private(path)
        return check_secret(secret, str(path))
    private_directory(path.parent)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # exactly, whatever the umask
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    log.info("generated a new signing secret in %s", path)
    return secret
