"""Lambda's execution model, locally: each function runs in "containers", one invocation at a time each.

A container is a thread holding one instance of the function class (built on its first invocation: the
cold start). Concurrent invocations get more containers, up to a limit, as Lambda scales out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LambdaContext:
    """What a handler's ``context`` argument offers, as far as Parley uses it."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    timeout_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


class _Container:
    def __init__(self, name: str, factory: Callable[[], Any]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lambda-{name}")
        self._factory = factory
        self._function: Any = None
        self.cold_starts = 0

    def _invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        if self._function is None:
            self.cold_starts += 1
            self._function = self._factory()
        return self._function(event, context)

    async def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._invoke, event, context)

    def close(self) -> None:
        if self._function is not None:
            self._executor.submit(self._function.close).result()
        self._executor.shutdown(wait=True)


class FunctionPool:
    def __init__(self, name: str, factory: Callable[[], Any], max_containers: int = 4) -> None:
        self.name = name
        self._factory = factory
        self._idle: list[_Container] = []
        self._all: list[_Container] = []
        self._slots = asyncio.Semaphore(max_containers)

    async def invoke(self, event: dict[str, Any]) -> Any:
        async with self._slots:
            container = self._idle.pop() if self._idle else self._new()
            try:
                return await container.invoke(event, LambdaContext(function_name=self.name))
            finally:
                self._idle.append(container)

    def _new(self) -> _Container:
        container = _Container(self.name, self._factory)
        self._all.append(container)
        return container

    @property
    def cold_starts(self) -> int:
        return sum(container.cold_starts for container in self._all)

    def close(self) -> None:
        for container in self._all:
            container.close()
