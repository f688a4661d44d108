"""Attached files: upload (in two steps, or one), poll until ready, list, download, delete. Another user's file is
not found.

The same routes on both homes; where the bytes are posted (this server, or a bucket) is the home's ``FileTransfer``
(``server/file_transfer.py``). Locally the upload comes through this server and is processed in a background task.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import RedirectResponse

from parley.core.files.background import BackgroundProcessing
from parley.core.files.base import FileKind, FileStatus
from parley.errors import Conflict, NotFound
from parley.runtime import Runtime
from parley.server.deps import PrincipalDep, RuntimeDep
from parley.server.file_schemas import FileListOut, FileOut, FileUploadOut, FileUploadRequest
from parley.server.file_transfer import FileTransfer
from parley.server.history_schemas import UploadTargetOut
from parley.server.schemas import ErrorBody
from parley.server.uploads import MULTIPART_FILE_BODY, SpooledUpload, spool_upload

router = APIRouter(tags=["files"])

FileId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}}
_UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    400: {"model": ErrorBody},
    409: {"model": ErrorBody},
    413: {"model": ErrorBody},
}
_CONTENT_TYPES: dict[str, dict[str, object]] = {
    "image/png": {},
    "image/jpeg": {},
    "image/webp": {},
    "application/octet-stream": {},
}


def _transfer(request: Request) -> FileTransfer:
    transfer: FileTransfer = request.app.state.file_transfer
    return transfer


def _processing(request: Request) -> BackgroundProcessing:
    processing: BackgroundProcessing = request.app.state.file_processing
    return processing


async def _spool(request: Request, runtime: Runtime) -> SpooledUpload:
    return await spool_upload(request, runtime.settings.file_uploads_dir, runtime.files.limits.max_file_bytes)


@router.post("/api/files/uploads", status_code=201, responses={**_UPLOAD_ERRORS})
async def create_file_upload(
    body: FileUploadRequest, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> FileUploadOut:
    """A new file, and where its bytes are to be posted (multipart, field `file`, after the `fields` given): this
    server, or a presigned storage URL. 413 past the per-file limit or the user's space; 409 at the most files."""
    file = await runtime.files.start_upload(principal.user.id, body.name, body.size)
    target = await _transfer(request).upload_target(file)
    return FileUploadOut(
        file=FileOut.of(file),
        upload=UploadTargetOut(url=target.url, fields=target.fields, max_bytes=target.max_bytes),
    )


@router.post("/api/files/{file_id}/content", responses=_UPLOAD_ERRORS, openapi_extra=MULTIPART_FILE_BODY)
async def upload_file_content(
    file_id: FileId, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> FileOut:
    """The bytes of a file made by `POST /api/files/uploads` (multipart, field `file`), once; processing starts
    when they are in. Only on a server that takes uploads itself."""
    if not _transfer(request).uploads_here:
        raise NotFound("Not found.")
    file = await runtime.files.get(principal.user.id, file_id)
    if file.status is not FileStatus.UPLOADING:
        raise Conflict("This file has its content already.")
    upload = await _spool(request, runtime)
    try:
        file = await runtime.files.receive(principal.user.id, file_id, upload.path)
    finally:
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
    _processing(request).start(principal.user.id, file.id)
    return FileOut.of(file)


@router.post("/api/files", status_code=201, responses=_UPLOAD_ERRORS, openapi_extra=MULTIPART_FILE_BODY)
async def upload_file(request: Request, principal: PrincipalDep, runtime: RuntimeDep) -> FileOut:
    """A file in one step (multipart, field `file`); poll `GET /api/files/{id}` until it is ready."""
    await runtime.files.check_room(principal.user.id)  # before a byte is read
    upload = await _spool(request, runtime)
    try:
        file = await runtime.files.upload(principal.user.id, upload.file_name, upload.path)
    finally:
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
    if _transfer(request).uploads_here:
        _processing(request).start(principal.user.id, file.id)
    return FileOut.of(file)


@router.get("/api/files", responses={401: {"model": ErrorBody}})
async def list_files(principal: PrincipalDep, runtime: RuntimeDep) -> FileListOut:
    """The user's files, newest first."""
    return FileListOut(items=[FileOut.of(file) for file in await runtime.files.list(principal.user.id)])


@router.get("/api/files/{file_id}", responses=_ERRORS)
async def get_file(file_id: FileId, principal: PrincipalDep, runtime: RuntimeDep) -> FileOut:
    return FileOut.of(await runtime.files.get(principal.user.id, file_id))


@router.delete("/api/files/{file_id}", status_code=204, responses=_ERRORS)
async def delete_file(file_id: FileId, principal: PrincipalDep, runtime: RuntimeDep) -> Response:
    """The file, its text, its passages and its bytes."""
    await runtime.files.delete(principal.user.id, file_id)
    return Response(status_code=204)


@router.get(
    "/api/files/{file_id}/content",
    responses={**_ERRORS, 200: {"content": _CONTENT_TYPES}, 302: {"description": "The original, from storage."}},
    response_class=Response,
)
async def file_content(file_id: FileId, request: Request, principal: PrincipalDep, runtime: RuntimeDep) -> Response:
    """An image as the model sees it (shown inline), or a document's original as a download; never a page."""
    files = runtime.files
    file = await files.get(principal.user.id, file_id)
    if file.kind is not FileKind.IMAGE:
        link = await _transfer(request).download_link(file)
        if link is not None:
            return RedirectResponse(link, status_code=302, headers={"Cache-Control": "no-store"})
    content = await files.content(principal.user.id, file_id)
    headers = {
        "Content-Disposition": _disposition("inline" if content.inline else "attachment", content.name),
        "Cache-Control": "private, max-age=3600" if content.inline else "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        # Were a browser ever to render it, it would be a sandboxed page without scripts or this origin's rights.
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    return Response(content.data, media_type=content.media_type, headers=headers)


def _disposition(how: str, name: str) -> str:
    """The name as the user gave it (RFC 5987) and a plain ASCII one for clients that read only that."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "file"
    return f"{how}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
