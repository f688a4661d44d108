"""``parley doctor``: check the configuration; the exit code is 1 when something is broken, so scripts can use it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from parley.cli.support import Subcommands, run_async
from parley.config import Settings
from parley.doctor import ENDPOINT_TIMEOUT, Finding, Status, diagnose

_LABELS = {Status.OK: "ok", Status.WARNING: "warning", Status.BROKEN: "BROKEN"}


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser(
        "doctor", parents=[common], help="check the configuration and say what is wrong and how to fix it"
    )
    doctor.add_argument("--models", type=Path, help="a models file, TOML (PARLEY_MODELS_FILE)")
    doctor.add_argument(
        "--timeout", type=float, default=ENDPOINT_TIMEOUT, help="seconds to wait for each endpoint (default 5)"
    )
    doctor.set_defaults(run=run_async(_doctor))


async def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    findings = await diagnose(settings, os.environ, wait_seconds=args.timeout)
    for finding in findings:
        print(format_finding(finding))
    broken = sum(finding.status is Status.BROKEN for finding in findings)
    warnings = sum(finding.status is Status.WARNING for finding in findings)
    if broken:
        print(f"\n{broken} problem(s) to fix before Parley works as configured.")
        return 1
    print(f"\nAll good{f' ({warnings} warning(s))' if warnings else ''}.")
    return 0


def format_finding(finding: Finding) -> str:
    line = f"{_LABELS[finding.status]:8} {finding.subject}: {finding.message}"
    if finding.fix and finding.status is not Status.OK:
        line += f"\n{'':8} fix: {finding.fix}"
    return line
