"""The attack suite (issue 6): every test runs against both paths, ``local`` and ``aws``.

A test asks for ``target`` and gets each path in turn; ``@pytest.mark.target_settings(...)`` changes
settings for one test. Figures go to the ledger, printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parley.testing.fake_openai import FakeOpenAI
from tests.attacks.ledger import LEDGER, Ledger
from tests.attacks.targets import PATHS, UPSTREAM_KEY, Target, open_target


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "target_settings(**overrides): settings for this test's targets")


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=UPSTREAM_KEY, models=("fake-model",)) as fake:
        yield fake


@pytest.fixture(params=PATHS)
async def target(request, tmp_path, upstream, monkeypatch) -> AsyncIterator[Target]:
    marker = request.node.get_closest_marker("target_settings")
    overrides = marker.kwargs if marker else {}
    async with open_target(request.param, tmp_path, upstream, overrides, monkeypatch) as opened:
        yield opened


@pytest.fixture
def ledger() -> Ledger:
    return LEDGER


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not LEDGER.paths:
        return
    terminalreporter.section("attack suite figures")
    for line in LEDGER.summary_lines():
        terminalreporter.write_line(line)
    LEDGER.write()
