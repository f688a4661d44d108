"""What only the user running Parley may read: the data directory, the database with its WAL, shared-memory and
backup files, and the JWT signing secret.

Modes are given to ``open``/``mkdir`` and then set exactly, so a permissive umask (000 makes new files
world-readable) changes nothing. Files an older version left readable by others are made private when opened.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> None:
    """Create ``path`` 0700 if it does not exist (missing parents are created as usual); an existing directory is
    left as it is: it may be one the operator chose to share."""
    if path.is_dir():
        return
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIRECTORY_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist, before another library (SQLite) creates it with its
    own mode; an existing one is made private (see :func:`make_private`)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        make_private(path)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def make_private(path: Path) -> None:
    """Take every permission of group and others from ``path``, if it exists and has any."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(path, mode & 0o700)
        except PermissionError:  # not ours: say so, but do not stop the server over it
            log.warning("%s is readable by others (mode %o) and could not be made private", path, mode)
            return
        log.warning("%s was readable by others (mode %o): made private", path, mode)
