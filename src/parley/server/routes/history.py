"""A user's history out and in: export one conversation or all of them, and import files as jobs to poll.

The same routes on both homes; how an archive is fetched and where a file is uploaded is the home's
``HistoryTransfer`` (``server/history_transfer.py``). Another user's conversation or job is not found.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from parley import __version__
from parley.core.history.export import HistoryExport
from parley.core.history.jobs import settled
from parley.core.store.base import ImportJob, ImportStatus
from parley.errors import Conflict, NotFound, TooLarge
from parley.runtime import Runtime
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.history_schemas import (
    ExportLinkOut,
    ImportJobListOut,
    ImportJobOut,
    ImportUploadOut,
    ImportUploadRequest,
    UploadTargetOut,
)
from parley.server.history_transfer import HistoryTransfer, LocalTransfer
from parley.server.schemas import ErrorBody
from parley.server.uploads import MULTIPART_FILE_BODY, spool_upload, too_large_message

router = APIRouter(tags=["history"])

ConversationId = Annotated[str, Path(min_length=1, max_length=64)]
JobId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}
_UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    400: {"model": ErrorBody},
    413: {"model": ErrorBody},
}
_NO_STORE = {"Cache-Control": "no-store"}


def _exporter(runtime: Runtime) -> HistoryExport:
    return HistoryExport(runtime.stores.conversations, runtime.stores.messages, app_version=__version__)


def _transfer(request: Request) -> HistoryTransfer:
    transfer: HistoryTransfer = request.app.state.history_transfer
    return transfer


def _local(request: Request) -> LocalTransfer:
    """The local transfer; the routes that only it serves are not found on a home that uploads to S3."""
    transfer = request.app.state.history_transfer
    if not isinstance(transfer, LocalTransfer):
        raise NotFound("Not found.")
    return transfer


def _attachment(file_name: str) -> dict[str, str]:
    # file_name is already plain ASCII (safe_file_name); filename* carries the same for clients that prefer it.
    return {
        "Content-Disposition": f"attachment; filename=\"{file_name}\"; filename*=UTF-8''{quote(file_name)}",
        **_NO_STORE,
    }


@router.get(
    "/api/conversations/{conversation_id}/export",
    responses={**_ERRORS, 200: {"content": {"application/json": {}, "text/markdown": {}}}},
    response_class=Response,
)
async def export_conversation(
    conversation_id: ConversationId,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    format: Annotated[Literal["json", "markdown"], Query(description="Parley's JSON (every branch) or Markdown")] = (
        "json"
    ),
) -> Response:
    """One conversation as a file to download: JSON keeps the whole tree, Markdown the branch shown last."""
    exporter = _exporter(runtime)
    if format == "markdown":
        exported = await exporter.conversation_markdown(principal.user.id, conversation_id)
    else:
        exported = await exporter.conversation_json(principal.user.id, conversation_id)
    if exported is None:
        raise NotFound("Conversation not found.")
    return Response(exported.content, media_type=exported.media_type, headers=_attachment(exported.file_name))


def _archive_response(runtime: Runtime, user_id: str) -> StreamingResponse:
    return StreamingResponse(
        _exporter(runtime).archive(user_id),
        media_type="application/zip",
        headers=_attachment("parley-export.zip"),
    )


@router.get(
    "/api/export",
    responses={401: {"model": ErrorBody}, 200: {"content": {"application/zip": {}}}},
    response_class=StreamingResponse,
)
async def export_everything(principal: PrincipalDep, runtime: RuntimeDep) -> StreamingResponse:
    """Every conversation, streamed as a zip (Parley's export format; `parley import` reads it)."""
    return _archive_response(runtime, principal.user.id)


@router.post("/api/exports", responses={401: {"model": ErrorBody}})
async def create_export(request: Request, principal: PrincipalDep, runtime: RuntimeDep) -> ExportLinkOut:
    """A link the browser downloads the archive of every conversation from; it expires within minutes."""

    def archive() -> AsyncIterator[bytes]:
        return _exporter(runtime).archive(principal.user.id)

    return ExportLinkOut(download_url=await _transfer(request).export_link(principal.user.id, archive))


@router.get(
    "/api/exports/{token}",
    responses={404: {"model": ErrorBody}, 200: {"content": {"application/zip": {}}}},
    response_class=StreamingResponse,
)
async def download_export(
    token: Annotated[str, Path(min_length=16, max_length=128)], request: Request, runtime: RuntimeDep
) -> StreamingResponse:
    """The archive behind a link from `POST /api/exports`: once, within minutes of asking."""
    user_id = _local(request).take_download(token)
    if user_id is None or await runtime.stores.users.get_user(user_id) is None:
        raise NotFound("This download link has expired or was used already. Ask for a new one.")
    return _archive_response(runtime, user_id)


@router.post("/api/imports", status_code=202, responses=_UPLOAD_ERRORS, openapi_extra=MULTIPART_FILE_BODY)
async def upload_import(request: Request, principal: PrincipalDep, runtime: RuntimeDep) -> ImportJobOut:
    """Upload a file to import (multipart, field `file`): a Parley archive or another app's export. The import
    runs in the background; poll `GET /api/imports/{id}`."""
    transfer = _local(request)
    upload = await spool_upload(request, runtime.settings.imports_dir, runtime.settings.max_import_bytes)
    job = await runtime.stores.import_jobs.create_job(principal.user.id, upload.file_name, upload.size)
    transfer.start_import(job, upload.path)
    return ImportJobOut.of(job)


@router.post("/api/imports/uploads", status_code=201, responses={**_ERRORS, 413: {"model": ErrorBody}})
async def create_import_upload(
    body: ImportUploadRequest, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> ImportUploadOut:
    """A new import job, and where its file is to be uploaded (this server, or a presigned storage URL)."""
    if body.size > runtime.settings.max_import_bytes:
        raise TooLarge(too_large_message(runtime.settings.max_import_bytes))
    job = await runtime.stores.import_jobs.create_job(principal.user.id, body.file_name, body.size)
    target = await _transfer(request).upload_target(job)
    return ImportUploadOut(
        job=ImportJobOut.of(job),
        upload=UploadTargetOut(url=target.url, fields=target.fields, max_bytes=target.max_bytes),
    )


@router.post("/api/imports/{job_id}/file", status_code=202, responses=_UPLOAD_ERRORS, openapi_extra=MULTIPART_FILE_BODY)
async def upload_import_file(
    job_id: JobId, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> ImportJobOut:
    """The file of a job made by `POST /api/imports/uploads` (multipart, field `file`); once."""
    transfer = _local(request)
    job = await _job(runtime, principal.user.id, job_id)
    if job.status is not ImportStatus.QUEUED or not transfer.claim_upload(job.id):
        raise Conflict("This import has its file already.")
    try:
        upload = await spool_upload(request, runtime.settings.imports_dir, runtime.settings.max_import_bytes)
    except BaseException:
        transfer.release_upload(job.id)
        raise
    transfer.start_import(job, upload.path)
    return ImportJobOut.of(job)


@router.get("/api/imports", responses={401: {"model": ErrorBody}})
async def list_imports(
    principal: PrincipalDep, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> ImportJobListOut:
    """The user's import jobs, newest first."""
    store, now = runtime.stores.import_jobs, time.time()
    jobs = [await settled(store, job, now) for job in await store.list_jobs(principal.user.id, limit)]
    return ImportJobListOut(items=[ImportJobOut.of(job) for job in jobs])


@router.get("/api/imports/{job_id}", responses=_ERRORS)
async def get_import(job_id: JobId, principal: PrincipalDep, runtime: RuntimeDep) -> ImportJobOut:
    return ImportJobOut.of(await _job(runtime, principal.user.id, job_id))


async def _job(runtime: Runtime, user_id: str, job_id: str) -> ImportJob:
    job = await runtime.stores.import_jobs.get_job(user_id, job_id)
    if job is None:
        raise NotFound("Import not found.")
    return await settled(runtime.stores.import_jobs, job, time.time())
