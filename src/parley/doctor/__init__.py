"""``parley doctor``: look at a configuration and say, in plain words, what is wrong and how to fix it.

Each check returns findings (``findings.py``); nothing here changes anything on disk or anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping

from parley.config import Settings
from parley.doctor.accounts import check_signup
from parley.doctor.aws import check_dynamodb
from parley.doctor.files import check_data_dir, check_secret_file, check_web_app
from parley.doctor.findings import Finding, Status
from parley.doctor.models import check_models

__all__ = ["ENDPOINT_TIMEOUT", "Finding", "Status", "diagnose"]

ENDPOINT_TIMEOUT = 5.0


async def diagnose(
    settings: Settings, env: Mapping[str, str], *, wait_seconds: float = ENDPOINT_TIMEOUT
) -> list[Finding]:
    findings = [
        *check_data_dir(settings),
        *check_secret_file(settings),
        *check_web_app(settings),
        *check_signup(settings),
    ]
    findings.extend(await check_dynamodb(settings))
    findings.extend(await check_models(settings, env, wait_seconds=wait_seconds))
    return findings
