"""The extraction process: ``python -m parley.core.files.extract_worker --max-chars N --memory BYTES --cpu S``.

It reads one file from standard input, sniffs its type and extracts its text, and writes one JSON object to
standard output: ``{"media_type", "kind", "text", "page_starts", "truncated", "problem"}``. Its address space and
CPU time are limited before it reads a byte, so a file that makes a parser allocate without end or loop forever
ends this process, never the server (which also kills it when its wall-clock time runs out; ``sandbox``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from typing import Any

from parley.core.files.base import FileKind
from parley.core.files.extract import Problem, TextLimits, Unreadable, extract
from parley.core.files.sniff import kind_of, sniff


def read_file(data: bytes, limits: TextLimits) -> dict[str, Any]:
    """What the parent is told about ``data``."""
    media_type = sniff(data)
    if not media_type:
        return {"media_type": "", "kind": None, "problem": Problem.UNSUPPORTED.value}
    kind = kind_of(media_type)
    answer: dict[str, Any] = {"media_type": media_type, "kind": kind.value, "problem": None}
    if kind is FileKind.IMAGE:
        return answer  # images are the image processor's, in the server
    try:
        extracted = extract(data, media_type, limits)
    except Unreadable as refused:
        return {**answer, "problem": refused.problem.value}
    except MemoryError:
        return {**answer, "problem": Problem.TOO_LARGE.value}
    except Exception as error:  # a parser's own error on a malformed file (each library has its own tree)
        print(f"extraction failed: {type(error).__name__}: {error}"[:500], file=sys.stderr)
        return {**answer, "problem": Problem.DAMAGED.value}
    return {
        **answer,
        "text": extracted.document.text,
        "page_starts": list(extracted.document.page_starts),
        "truncated": extracted.truncated,
    }


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # writes no files (its output is a pipe)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="extract_worker")
    parser.add_argument("--max-chars", type=int, required=True)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    args = parser.parse_args(argv)
    _limit(args.memory, args.cpu)
    data = sys.stdin.buffer.read()
    answer = read_file(data, TextLimits(max_chars=args.max_chars))
    # A parser may hand back a lone surrogate: it is replaced rather than failing the whole file.
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8", "replace"))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
