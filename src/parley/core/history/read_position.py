"""How far this process has read into a file, whoever opened it (a format reader knows nothing of progress)."""

from __future__ import annotations

import os
from pathlib import Path

_FD_DIR = Path("/proc/self/fd")


def read_position(path: Path) -> int | None:
    """The furthest offset of the descriptors this process has open on ``path``; None when none is open or the
    system does not say (Linux tells through /proc)."""
    try:
        target = path.stat()
        descriptors = os.listdir(_FD_DIR)
    except OSError:
        return None
    furthest: int | None = None
    for fd in descriptors:
        try:
            opened = os.stat(_FD_DIR / fd)
            if (opened.st_dev, opened.st_ino) != (target.st_dev, target.st_ino):
                continue
            info = (_FD_DIR.parent / "fdinfo" / fd).read_text()
        except OSError:
            continue  # closed meanwhile
        for line in info.splitlines():
            if line.startswith("pos:"):
                position = int(line.split()[1])
                furthest = position if furthest is None else max(furthest, position)
    return furthest
