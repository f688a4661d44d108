"""Extraction in a process of its own (``extract_worker``), with a wall-clock deadline and an address-space limit:
a PDF that never finishes parsing, a zip bomb inside a Word document or a file that makes a parser allocate without
end costs that process its life, and the server an error to report."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import sys
from dataclasses import dataclass
from typing import Protocol

from parley.core.files.base import ExtractedDocument, FileKind, FileLimits
from parley.core.files.extract import Problem

log = logging.getLogger(__name__)

WORKER_MODULE = "parley.core.files.extract_worker"


@dataclass(frozen=True)
class Extraction:
    """What reading a file found: its type, and its text (documents), or the problem that stopped it."""

    media_type: str
    kind: FileKind | None
    document: ExtractedDocument | None = None
    truncated: bool = False
    problem: Problem | None = None


class TextExtractor(Protocol):
    async def extract(self, data: bytes) -> Extraction: ...


class SubprocessExtractor:
    """A new ``python -m parley.core.files.extract_worker`` per file, given the bytes on its standard input."""

    def __init__(self, limits: FileLimits, *, python: str = sys.executable) -> None:
        self._limits = limits
        self._python = python

    async def extract(self, data: bytes) -> Extraction:
        limits = self._limits
        process = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            WORKER_MODULE,
            "--max-chars",
            str(limits.max_text_chars),
            "--memory",
            str(limits.extract_memory_bytes),
            "--cpu",
            str(math.ceil(limits.extract_seconds) + 1),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(limits.extract_seconds):
                out, err = await process.communicate(data)
        except TimeoutError:
            return Extraction(media_type="", kind=None, problem=Problem.TIMEOUT)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if err:
            log.info("extraction process said: %s", err.decode("utf-8", "replace")[-1000:])
        if process.returncode != 0:
            return Extraction(media_type="", kind=None, problem=_died(process.returncode, err))
        return _answer(out)


def _died(returncode: int | None, err: bytes) -> Problem:
    # Past its CPU time it gets SIGXCPU (then SIGKILL); past its address space an allocation fails, which Python
    # reports as MemoryError (caught in the worker, unless it strikes outside a parser) or, deep in a C library,
    # as a crash.
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return Problem.TIMEOUT
    if b"MemoryError" in err:
        return Problem.TOO_LARGE
    log.warning("the extraction process ended with status %s", returncode)
    return Problem.DAMAGED


def _answer(out: bytes) -> Extraction:
    try:
        answer = json.loads(out)
        media_type = str(answer["media_type"])
        kind = FileKind(answer["kind"]) if answer["kind"] else None
        problem = Problem(answer["problem"]) if answer["problem"] else None
    except (ValueError, KeyError, TypeError):
        log.warning("the extraction process gave no answer that could be read")
        return Extraction(media_type="", kind=None, problem=Problem.DAMAGED)
    if problem is not None or kind is not FileKind.DOCUMENT:
        return Extraction(media_type=media_type, kind=kind, problem=problem)
    document = ExtractedDocument(str(answer["text"]), tuple(int(start) for start in answer["page_starts"]))
    return Extraction(media_type, kind, document=document, truncated=bool(answer["truncated"]))
