"""The web app: the files ``make web-build`` puts in ``web/dist``, and ``/config.json`` saying where the API is.

Paths no API route claims reach ``WebApp`` (it is the router's fallback, so API 404s and 405s are unchanged):
a file of the build is served as is, a client route such as ``/c/123`` gets ``index.html``, and anything
under ``/api`` or that looks like a missing file stays a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from parley.server.browser_headers import ASSET_CACHE_CONTROL, PAGE_CACHE_CONTROL, PAGE_HEADERS
from parley.server.deps import RuntimeDep
from parley.server.errors import error_response

NOT_FOR_THE_APP = ("api", "v1", "ws", "docs", "redoc", "openapi.json")

router = APIRouter(tags=["web"])


class WebConfig(BaseModel):
    api_base_url: str = Field(description="Base URL of the JSON API; empty means the origin the app came from.")
    ws_url: str = Field(description="URL of the WebSocket; empty means /ws on the origin the app came from.")
    app_name: str = Field(description="What the app calls itself (PARLEY_APP_NAME).")


@router.get("/config.json")
async def web_config(runtime: RuntimeDep) -> WebConfig:
    """Read by the web app at start, so one build works here and behind a CDN (where this file is replaced)."""
    return WebConfig(api_base_url="", ws_url="", app_name=runtime.settings.app_name)


class WebApp:
    """Serves the built app; ``fallback`` (the router's usual not-found) answers everything else."""

    def __init__(self, root: Path | None, fallback: ASGIApp, *, headers: dict[str, str] | None = None) -> None:
        self.root = root
        self.fallback = fallback
        self.headers = PAGE_HEADERS if headers is None else headers
        self._files = StaticFiles(directory=root, check_dir=False) if root is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope) if _is_page_request(scope) else None
        if response is None:
            await self.fallback(scope, receive, send)
            return
        response.headers.update(self.headers)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope) -> Response | None:
        if self._files is None or self.root is None or not (self.root / "index.html").is_file():
            return error_response(
                404, "not_found", "The web app is not built: run `make web-build` (or set PARLEY_WEB_DIR)."
            )
        relative = scope["path"].lstrip("/")
        if relative:
            try:
                response = await self._files.get_response(relative, scope)
            except HTTPException:
                response = None
            if response is not None and response.status_code in (200, 304):
                immutable = relative.startswith("assets/")
                response.headers["Cache-Control"] = ASSET_CACHE_CONTROL if immutable else PAGE_CACHE_CONTROL
                return response
            if "." in relative.rsplit("/", 1)[-1]:
                return None  # a missing file, not a client route
        response = await self._files.get_response("index.html", scope)
        response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
        return response


def _is_page_request(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    first = scope["path"].lstrip("/").split("/", 1)[0]
    return first not in NOT_FOR_THE_APP


def install(app: FastAPI, web_dir: Path | None) -> None:
    """Add ``/config.json`` and serve the app at every path no other route takes."""
    app.include_router(router)
    app.router.default = WebApp(web_dir, fallback=app.router.default)
