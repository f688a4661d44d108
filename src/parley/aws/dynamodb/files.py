"""Attached files' records on DynamoDB: one item each under the owner's partition (their bytes are in the files
bucket). A user keeps at most some thousand files, so listing and totalling are one query of the partition."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table, is_condition_failure
from parley.core.files.base import FileKind, FileStatus, StoredFile
from parley.core.files.records import new_file

_OPTIONAL = ("kind", "error", "width", "height")


def _file(item: dict[str, Any]) -> StoredFile:
    return StoredFile(
        id=item["file_id"],
        user_id=item["user_id"],
        name=item["name"],
        size=int(item["size"]),
        status=FileStatus(item["status"]),
        created_at=float(item["created_at"]),
        updated_at=float(item["updated_at"]),
        media_type=item.get("media_type", ""),
        kind=FileKind(item["kind"]) if item.get("kind") else None,
        error=item.get("error"),
        text_chars=int(item.get("text_chars", 0)),
        passages=int(item.get("passages", 0)),
        width=int(item["width"]) if item.get("width") is not None else None,
        height=int(item["height"]) if item.get("height") is not None else None,
        text_truncated=bool(item.get("text_truncated", False)),
    )


def _item(file: StoredFile) -> dict[str, Any]:
    pk, sk = keys.file(file.user_id, file.id)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "file_id": file.id,
        "user_id": file.user_id,
        "name": file.name,
        "size": file.size,
        "status": file.status.value,
        "created_at": file.created_at,
        "updated_at": file.updated_at,
        "media_type": file.media_type,
        "text_chars": file.text_chars,
        "passages": file.passages,
        "text_truncated": file.text_truncated,
        "kind": file.kind.value if file.kind else None,
        "error": file.error,
        "width": file.width,
        "height": file.height,
    }
    return {name: value for name, value in item.items() if not (name in _OPTIONAL and value is None)}


class DynamoFileStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def create_file(self, user_id: str, name: str, size: int, *, now: float | None = None) -> StoredFile:
        file = new_file(user_id, name, size, now)
        await self._table.put(_item(file), condition="attribute_not_exists(pk)")
        return file

    async def get_file(self, user_id: str, file_id: str) -> StoredFile | None:
        item = await self._table.get(*keys.file(user_id, file_id))
        return _file(item) if item else None

    async def list_files(self, user_id: str) -> list[StoredFile]:
        files = [_file(item) for item in await self._items(user_id)]
        return sorted(files, key=lambda file: (file.created_at, file.id), reverse=True)

    async def save_file(self, file: StoredFile) -> None:
        # Never brings back a record deleted while its file was processed.
        try:
            await self._table.put(_item(file), condition="attribute_exists(pk)")
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    async def delete_file(self, user_id: str, file_id: str) -> bool:
        try:
            await self._table.delete(*keys.file(user_id, file_id), condition="attribute_exists(pk)")
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    async def delete_all_for_user(self, user_id: str) -> None:
        await self._table.delete_keys((item["pk"], item["sk"]) for item in await self._items(user_id))

    async def _items(self, user_id: str) -> list[dict[str, Any]]:
        pk, _ = keys.user(user_id)
        return await self._table.query_all("pk = :p AND begins_with(sk, :f)", {":p": pk, ":f": keys.FILE_PREFIX})
