"""Bodies of the attached files' routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from parley.core.files.base import StoredFile
from parley.server.history_schemas import UploadTargetOut
from parley.server.schemas import Strict


class FileOut(BaseModel):
    id: str
    name: str
    size: int = Field(description="Bytes of the original.")
    status: Literal["uploading", "processing", "ready", "error"]
    media_type: str = Field(description="Sniffed from the content (never the name); empty until processed.")
    kind: Literal["document", "image"] | None
    error: str | None = Field(description="Why the file cannot be used (status error), in plain words.")
    text_chars: int = Field(description="Characters of text extracted (documents).")
    passages: int = Field(description="Passages indexed for retrieval (documents).")
    width: int | None = Field(description="Pixels of the image as the model sees it (images).")
    height: int | None
    text_truncated: bool = Field(description="The text was longer than this server reads: only its start is used.")
    created_at: float

    @classmethod
    def of(cls, file: StoredFile) -> FileOut:
        return cls(
            id=file.id,
            name=file.name,
            size=file.size,
            status=file.status.value,
            media_type=file.media_type,
            kind=file.kind.value if file.kind else None,
            error=file.error,
            text_chars=file.text_chars,
            passages=file.passages,
            width=file.width,
            height=file.height,
            text_truncated=file.text_truncated,
            created_at=file.created_at,
        )


class FileListOut(BaseModel):
    items: list[FileOut]


class FileUploadRequest(Strict):
    name: str = Field(min_length=1, max_length=1000, description="The file's name (shown; never used as a path).")
    size: int = Field(ge=0, description="The file's size in bytes (past the server's limits it is refused).")


class FileUploadOut(BaseModel):
    file: FileOut
    upload: UploadTargetOut
