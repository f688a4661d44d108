"""Parley's own export: an archive of every conversation (``parley export``), or one conversation's JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parley.core.history import parley_format as fmt
from parley.core.history.bounded_json import load_json
from parley.core.history.imported import ImportItem, ImportLimits, MalformedConversation, import_format
from parley.core.history.safe_zip import SafeZip, looks_like_zip, member_names, open_archive, open_member
from parley.errors import InvalidInput

_SNIFF_BYTES = 4096
_MANIFEST_MAX_BYTES = 64 * 1024 * 1024


@import_format("parley")
class ParleyFormat:
    name = "parley"
    label = "Parley export"

    def sniff(self, path: Path) -> bool:
        if looks_like_zip(path):
            try:
                return fmt.MANIFEST in member_names(path, ImportLimits()) and self._manifest_format(path)
            except InvalidInput:
                return False
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")
        return head.startswith(b"{") and f'"{fmt.CONVERSATION_FORMAT}"'.encode() in head

    def read(self, path: Path, limits: ImportLimits) -> Iterator[ImportItem]:
        if looks_like_zip(path):
            yield from self._read_archive(path, limits)
            return
        if path.stat().st_size > limits.max_uncompressed_bytes:
            raise InvalidInput("The file is larger than this server accepts.")
        document = load_json(path.read_bytes(), max_depth=limits.max_json_depth, what="The file")
        try:
            fmt.check_version(document, fmt.CONVERSATION_FORMAT)
        except fmt.NotReadable as error:
            raise InvalidInput(f"The file cannot be imported: {error}.") from None
        yield _conversation(document, path.name, limits)

    def _manifest_format(self, path: Path) -> bool:
        with open_member(path, fmt.MANIFEST, ImportLimits()) as member:
            head = member.read(_SNIFF_BYTES)
        return f'"{fmt.ARCHIVE_FORMAT}"'.encode() in head

    def _read_archive(self, path: Path, limits: ImportLimits) -> Iterator[ImportItem]:
        with open_archive(path, limits) as archive:
            manifest = _load_member(archive, fmt.MANIFEST, limits, max_bytes=_MANIFEST_MAX_BYTES)
            try:
                fmt.check_version(manifest, fmt.ARCHIVE_FORMAT)
            except fmt.NotReadable as error:
                raise InvalidInput(f"The archive cannot be imported: {error}.") from None
            files = manifest.get("files")
            if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
                raise InvalidInput("The archive's manifest has no list of files.")
            for name in files:
                # A member that inflates too far or is damaged refuses the whole archive (it raises here); one that
                # is missing or not a readable conversation is skipped.
                try:
                    data = _member_bytes(archive, name, max_bytes=limits.max_uncompressed_bytes)
                except _Missing:
                    yield MalformedConversation(name=name, reason="the manifest lists it but the archive lacks it")
                    continue
                try:
                    document = load_json(data, max_depth=limits.max_json_depth, what=name)
                except InvalidInput as error:
                    yield MalformedConversation(name=name, reason=error.message)
                    continue
                yield _conversation(document, name, limits)


class _Missing(Exception):
    pass


def _load_member(archive: SafeZip, name: str, limits: ImportLimits, *, max_bytes: int) -> Any:
    try:
        data = _member_bytes(archive, name, max_bytes=max_bytes)
    except _Missing:
        raise InvalidInput(f"The archive has no {name}.") from None
    return load_json(data, max_depth=limits.max_json_depth, what=name)


def _member_bytes(archive: SafeZip, name: str, *, max_bytes: int) -> bytes:
    if name not in archive.names:
        raise _Missing(name)
    with archive.open_member(name) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidInput(f"{name} is larger than this server accepts.")
    return data


def _conversation(document: Any, fallback_name: str, limits: ImportLimits) -> ImportItem:
    title = document.get("title") if isinstance(document, dict) else None
    name = title if isinstance(title, str) and title.strip() else fallback_name
    try:
        conversation = fmt.read_conversation_document(document)
    except fmt.NotReadable as error:
        return MalformedConversation(name=name, reason=str(error))
    if len(conversation.messages) > limits.max_messages_per_conversation:
        return MalformedConversation(
            name=name, reason=f"it has more than {limits.max_messages_per_conversation:,} messages"
        )
    return conversation
