"""moto's AWS services on a loopback port, with DynamoDB's one guarantee that moto's threaded server lacks.

DynamoDB applies each write, and its condition, atomically. moto checks a condition and then writes, and
its server runs requests in threads, so two conditional writes racing on one item can both pass. Here
DynamoDB requests take turns (other services still run side by side), so the store's concurrency rules
are tested against the semantics they rely on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.model_instances import reset_model_data
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _DynamoDBTakesTurns:
    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))  # the whole answer, inside the turn


class MotoServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serve on a free port; returns the endpoint URL."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # it logs every request otherwise
        app = _DynamoDBTakesTurns(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._host, 0, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        # moto keeps every model object it ever made (every version of every item) for its dashboard, so
        # nothing dropped is ever freed; a process that runs many servers (the tests) would carry them all.
        reset_model_data()
