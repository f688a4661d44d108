"""Bodies of the history routes: exports and import jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from parley.core.store.base import ImportJob
from parley.server.schemas import Strict


class ExportLinkOut(BaseModel):
    download_url: str = Field(
        description="Where the browser downloads the archive from: a one-time link that expires within minutes."
    )


class SkippedOut(BaseModel):
    name: str = Field(description="The conversation, as its source names it (its title, or its place in the file).")
    reason: str


class ProgressOut(BaseModel):
    bytes_read: int
    bytes_total: int


class ImportJobOut(BaseModel):
    id: str
    file_name: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: float
    updated_at: float
    conversations_imported: int
    duplicates: int = Field(description="Conversations imported before, skipped this time.")
    skipped: list[SkippedOut] = Field(description="Conversations that could not be read, and why.")
    progress: ProgressOut
    error: str | None = Field(description="Why the whole file could not be imported (status failed).")

    @classmethod
    def of(cls, job: ImportJob) -> ImportJobOut:
        return cls(
            id=job.id,
            file_name=job.file_name,
            status=job.status.value,
            created_at=job.created_at,
            updated_at=job.updated_at,
            conversations_imported=job.conversations_imported,
            duplicates=job.duplicates,
            skipped=[SkippedOut(name=s.name, reason=s.reason) for s in job.skipped],
            progress=ProgressOut(bytes_read=job.bytes_read, bytes_total=job.bytes_total),
            error=job.error,
        )


class ImportJobListOut(BaseModel):
    items: list[ImportJobOut]


class ImportUploadRequest(Strict):
    file_name: str = Field(min_length=1, max_length=200)
    size: int = Field(ge=0, description="The file's size in bytes (an upload past the server's cap is refused).")


class UploadTargetOut(BaseModel):
    url: str = Field(description="POST the fields, then the file in a field named `file`, as multipart/form-data.")
    fields: dict[str, str]
    max_bytes: int


class ImportUploadOut(BaseModel):
    job: ImportJobOut
    upload: UploadTargetOut
