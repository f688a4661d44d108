"""The files service over SQLite and a local blob directory, with the real extraction process: uploads within the
limits, processing to READY or ERROR with a plain reason, what the owner can read, and deletion of everything a
file left behind. The image processor and the indexer are recording doubles (their real ones are tested with
their own modules)."""

from __future__ import annotations

import dataclasses
import os
import stat

import pytest

from parley.config import Settings
from parley.core.files.base import (
    IMAGE,
    ORIGINAL,
    TEXT,
    ExtractedDocument,
    FileKind,
    FileLimits,
    FileStatus,
    blob_key,
    document_from_bytes,
)
from parley.core.files.images import PreparedImage
from parley.core.files.local_blobs import LocalFileBlobs
from parley.core.files.sandbox import SubprocessExtractor
from parley.core.files.service import FileService, clean_name
from parley.core.store.registry import open_stores
from parley.errors import Conflict, InvalidInput, NotFound, TooLarge
from parley.testing import sample_files

LIMITS = FileLimits(
    max_file_bytes=2 * 1024 * 1024, max_user_bytes=3 * 1024 * 1024, max_user_files=5, extract_seconds=30
)


class RecordingIndexer:
    def __init__(self) -> None:
        self.indexed: dict[tuple[str, str], ExtractedDocument] = {}
        self.deleted: list[tuple[str, str]] = []

    async def index(self, user_id: str, file_id: str, document: ExtractedDocument) -> int:
        self.indexed[(user_id, file_id)] = document
        return len(document.text.split("\n\n"))

    async def delete(self, user_id: str, file_id: str) -> None:
        self.deleted.append((user_id, file_id))


class RecordingImages:
    """Re-encodes nothing: gives back a marked copy, as PNG, and remembers what it was given."""

    def __init__(self) -> None:
        self.prepared: list[tuple[bytes, str]] = []
        self.refusal: Exception | None = None

    async def prepare(self, data: bytes, media_type: str) -> PreparedImage:
        self.prepared.append((data, media_type))
        if self.refusal is not None:
            raise self.refusal
        return PreparedImage(data=b"re-encoded " + data[:8], media_type="image/png", width=2, height=2)


@dataclasses.dataclass
class World:
    files: FileService
    blobs: LocalFileBlobs
    root: object
    indexer: RecordingIndexer
    images: RecordingImages
    alice: str
    bob: str
    tmp: object

    def spooled(self, content: bytes, name: str = "upload") -> object:
        path = self.tmp / f"spool-{os.urandom(4).hex()}"
        path.write_bytes(content)
        return path

    async def upload(self, content: bytes, name: str = "file", user: str | None = None):
        return await self.files.upload(user or self.alice, name, self.spooled(content))

    async def processed(self, content: bytes, name: str = "file", user: str | None = None):
        file = await self.upload(content, name, user)
        return await self.files.process(file.user_id, file.id)


def service(stores, blobs, limits=LIMITS, indexer=None, images=None) -> FileService:
    return FileService(
        stores.files,
        blobs,
        limits=limits,
        extractor=SubprocessExtractor(limits),
        images=images or RecordingImages(),
        indexer=indexer or RecordingIndexer(),
    )


@pytest.fixture
async def world(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    async with open_stores("sqlite", settings) as stores:
        alice = await stores.users.create_user("alice", "hash")
        bob = await stores.users.create_user("bob", "hash")
        blobs = LocalFileBlobs(settings.files_dir)
        indexer, images = RecordingIndexer(), RecordingImages()
        files = service(stores, blobs, indexer=indexer, images=images)
        yield World(files, blobs, settings.files_dir, indexer, images, alice.id, bob.id, tmp_path)


async def test_a_document_becomes_ready_with_its_text_kept_and_indexed(world):
    file = await world.upload(sample_files.docx("Revenue grew by 12%.", "Costs fell."), "report.docx")
    assert (file.status, file.name, file.media_type, file.kind) == (FileStatus.PROCESSING, "report.docx", "", None)
    assert await world.blobs.get(blob_key(world.alice, file.id, ORIGINAL)) is not None

    ready = await world.files.process(world.alice, file.id)
    assert ready.status is FileStatus.READY and ready.error is None
    assert ready.media_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert (ready.kind, ready.text_chars, ready.passages) == (
        FileKind.DOCUMENT,
        len("Revenue grew by 12%.\n\nCosts fell."),
        2,
    )
    document = await world.files.document(world.alice, file.id)
    assert document == ExtractedDocument("Revenue grew by 12%.\n\nCosts fell.")
    assert world.indexer.indexed[(world.alice, file.id)] == document
    assert document_from_bytes(await world.blobs.get(blob_key(world.alice, file.id, TEXT))) == document
    assert await world.files.get(world.alice, file.id) == ready


async def test_a_pdf_keeps_its_page_offsets(world):
    ready = await world.processed(sample_files.pdf("Alpha page.", "Beta page."), "paper.pdf")
    document = await world.files.document(world.alice, ready.id)
    assert ready.media_type == "application/pdf" and len(document.page_starts) == 2
    assert document.page_at(document.text.index("Beta")) == 2


async def test_the_type_comes_from_the_content_never_the_name(world):
    image = await world.processed(sample_files.png(), "invoice.pdf")
    assert (image.status, image.kind, image.media_type, image.width, image.height) == (
        FileStatus.READY,
        FileKind.IMAGE,
        "image/png",
        2,
        2,
    )
    assert world.images.prepared == [(sample_files.png(), "image/png")]
    assert await world.blobs.get(blob_key(world.alice, image.id, IMAGE)) == b"re-encoded " + sample_files.png()[:8]
    assert world.indexer.indexed == {}

    page = await world.processed(b"<html><body><p>Hello</p><script>x()</script></body></html>", "notes.txt")
    assert page.media_type == "text/html" and (await world.files.document(world.alice, page.id)).text == "Hello"


async def test_an_image_the_processor_refuses_ends_in_error_with_its_reason(world):
    world.images.refusal = InvalidInput("The image has more pixels than this server takes.")
    refused = await world.processed(sample_files.png(), "huge.png")
    assert (refused.status, refused.error) == (FileStatus.ERROR, "The image has more pixels than this server takes.")
    with pytest.raises(NotFound):
        await world.files.content(world.alice, refused.id)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (bytes(range(256)) * 4, "not supported"),
        (sample_files.pdf("Secret.", password="pw"), "password-protected"),
        (sample_files.pdf(""), "No text was found"),
        (sample_files.docx_with_bomb(), "too large to read"),
    ],
)
async def test_a_file_that_cannot_be_read_ends_in_error_with_a_plain_reason(world, content, reason):
    failed = await world.processed(content, "whatever.pdf")
    assert failed.status is FileStatus.ERROR and reason in failed.error
    assert await world.files.document(world.alice, failed.id) is None
    assert world.indexer.indexed == {}


async def test_a_file_that_takes_too_long_is_stopped(world, tmp_path):
    quick = service_with(world, dataclasses.replace(LIMITS, extract_seconds=0.05))
    file = await world.upload(b"plain words")
    failed = await quick.process(world.alice, file.id)
    assert failed.status is FileStatus.ERROR and failed.error.startswith("Reading the file took too long")


async def test_a_file_that_needs_more_memory_than_allowed_is_stopped(world):
    # Reading this text whole takes well over the 150 MB the process is allowed: it ends, the server goes on.
    tight = service_with(
        world,
        dataclasses.replace(
            LIMITS,
            max_file_bytes=64 * 1024**2,
            max_user_bytes=10**9,
            extract_memory_bytes=150 * 1024**2,
            max_text_chars=10**9,
        ),
    )
    file = await tight.upload(world.alice, "big.txt", world.spooled(b"\xc3\xa9 long line of text " * 2_500_000))
    failed = await tight.process(world.alice, file.id)
    assert failed.status is FileStatus.ERROR
    assert "too large to read" in failed.error, failed.error


def service_with(world: World, limits: FileLimits) -> FileService:
    return FileService(
        world.files._store,
        world.blobs,
        limits=limits,
        extractor=SubprocessExtractor(limits),
        images=world.images,
        indexer=world.indexer,
    )


async def test_long_text_is_cut_and_the_file_says_so(world):
    short = service_with(world, dataclasses.replace(LIMITS, max_text_chars=50))
    file = await short.upload(world.alice, "long.txt", world.spooled(b"lorem ipsum " * 100))
    ready = await short.process(world.alice, file.id)
    assert (ready.status, ready.text_chars, ready.text_truncated) == (FileStatus.READY, 50, True)


async def test_uploads_past_the_limits_are_refused_before_anything_is_kept(world):
    with pytest.raises(TooLarge, match="larger than this server accepts"):
        await world.files.start_upload(world.alice, "big.pdf", LIMITS.max_file_bytes + 1)
    await world.files.start_upload(world.alice, "a", 2 * 1024 * 1024)
    with pytest.raises(TooLarge, match="past the 3 MB"):
        await world.files.start_upload(world.alice, "b", 1024 * 1024 + 1)
    await world.files.start_upload(world.bob, "b", 1024 * 1024 + 1)  # bob's space is his own
    for n in range(3):
        await world.files.start_upload(world.alice, f"small {n}", 1)
    await world.files.start_upload(world.alice, "fifth", 0)
    with pytest.raises(Conflict, match="as many as this server keeps"):
        await world.files.start_upload(world.alice, "sixth", 0)
    with pytest.raises(InvalidInput):
        await world.files.start_upload(world.bob, "negative", -1)


async def test_bytes_that_turn_out_larger_than_declared_are_refused(world):
    file = await world.files.start_upload(world.alice, "a.txt", 10)
    too_many = world.spooled(b"x" * (LIMITS.max_file_bytes + 1))
    with pytest.raises(TooLarge):
        await world.files.receive(world.alice, file.id, too_many)
    refused = await world.files.get(world.alice, file.id)
    assert refused.status is FileStatus.ERROR and "larger than this server accepts" in refused.error
    assert await world.blobs.get(blob_key(world.alice, file.id, ORIGINAL)) is None

    other = await world.files.start_upload(world.alice, "b.txt", 10)
    await world.files.receive(world.alice, other.id, world.spooled(b"fine"))
    with pytest.raises(Conflict):
        await world.files.receive(world.alice, other.id, world.spooled(b"again"))


async def test_an_original_larger_than_the_limit_found_in_storage_is_refused_and_removed(world):
    # A bucket that was not told the limit: processing checks the size it finds.
    file = await world.files.start_upload(world.alice, "a.txt", 10)
    await world.blobs.put(blob_key(world.alice, file.id, ORIGINAL), b"x" * (LIMITS.max_file_bytes + 1))
    refused = await world.files.process(world.alice, file.id)
    assert refused.status is FileStatus.ERROR and "larger than this server accepts" in refused.error
    assert await world.blobs.size(blob_key(world.alice, file.id, ORIGINAL)) is None


async def test_processing_twice_or_before_the_bytes_arrive_changes_nothing(world):
    waiting = await world.files.start_upload(world.alice, "a.txt", 10)
    assert await world.files.process(world.alice, waiting.id) == waiting
    ready = await world.processed(b"plain text")
    assert await world.files.process(world.alice, ready.id) == ready
    assert await world.files.process(world.alice, "0" * 32) is None


async def test_another_users_file_is_not_found(world):
    file = await world.processed(b"alice's notes")
    for action in (
        world.files.get(world.bob, file.id),
        world.files.content(world.bob, file.id),
        world.files.delete(world.bob, file.id),
        world.files.receive(world.bob, file.id, world.spooled(b"x")),
    ):
        with pytest.raises(NotFound):
            await action
    assert await world.files.document(world.bob, file.id) is None
    assert await world.files.process(world.bob, file.id) is None
    assert [f.id for f in await world.files.list(world.bob)] == []
    assert (await world.files.get(world.alice, file.id)).status is FileStatus.READY


async def test_content_is_the_image_shown_or_the_original_to_save_never_a_page(world):
    image = await world.processed(sample_files.png(), "photo")
    shown = await world.files.content(world.alice, image.id)
    assert (shown.media_type, shown.inline, shown.data[:11]) == ("image/png", True, b"re-encoded ")

    pdf = sample_files.pdf("Report.")
    saved = await world.files.content(world.alice, (await world.processed(pdf, "r.pdf")).id)
    assert (saved.media_type, saved.inline, saved.data) == ("application/pdf", False, pdf)

    page = b"<html><body><script>steal()</script><p>hi</p></body></html>"
    html = await world.files.content(world.alice, (await world.processed(page, "page.html")).id)
    assert (html.media_type, html.inline, html.data) == ("application/octet-stream", False, page)

    waiting = await world.files.start_upload(world.alice, "a.txt", 10)
    with pytest.raises(NotFound):
        await world.files.content(world.alice, waiting.id)


async def test_list_is_newest_first_and_names_are_cleaned(world):
    first = await world.processed(b"one", "../../etc/passwd")
    second = await world.processed(b"two", "C:\\Users\\me\\.secret\u202etxt.exe")
    listed = await world.files.list(world.alice)
    assert [f.id for f in listed] == [second.id, first.id]
    assert [f.name for f in listed] == ["secrettxt.exe", "passwd"]


def test_names_are_shown_never_used_as_paths():
    assert clean_name("../../../etc/passwd") == "passwd"
    assert clean_name("..\\..\\boot.ini") == "boot.ini"
    assert clean_name("/") == "file"
    assert clean_name("..") == "file"
    assert clean_name("a\x00b\nc.txt") == "abc.txt"
    assert clean_name("x" * 500) == "x" * 200
    assert clean_name("  report (final).pdf ") == "report (final).pdf"


async def test_deleting_a_file_removes_its_record_passages_and_bytes(world):
    file = await world.processed(sample_files.docx("Keep me."), "doc.docx")
    other = await world.processed(b"stays")
    await world.files.delete(world.alice, file.id)
    with pytest.raises(NotFound):
        await world.files.get(world.alice, file.id)
    assert not (world.root / world.alice / file.id).exists()
    assert world.indexer.deleted == [(world.alice, file.id)]
    assert (await world.files.get(world.alice, other.id)).status is FileStatus.READY
    with pytest.raises(NotFound):
        await world.files.delete(world.alice, file.id)


async def test_deleting_a_users_files_leaves_other_users_alone(world):
    mine = [await world.processed(b"a"), await world.processed(b"b")]
    bobs = await world.processed(b"c", user=world.bob)
    await world.files.delete_user_files(world.alice)
    assert await world.files.list(world.alice) == []
    assert not (world.root / world.alice).exists()
    assert sorted(world.indexer.deleted) == sorted((world.alice, f.id) for f in mine)
    assert (await world.files.get(world.bob, bobs.id)).status is FileStatus.READY


async def test_blobs_are_private_and_keys_cannot_leave_the_directory(world, tmp_path):
    file = await world.processed(b"private words")
    path = world.root / world.alice / file.id / ORIGINAL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (world.root, world.root / world.alice, world.root / world.alice / file.id):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for key in ("../x", "a/../../b", "/etc/passwd", "a//b", ".hidden/x", ""):
        with pytest.raises(ValueError):
            await world.blobs.put(key, b"x")
    # A prefix is whole segments: removing "u1" leaves "u10" alone.
    await world.blobs.put("u1/f/original", b"1")
    await world.blobs.put("u10/f/original", b"10")
    await world.blobs.delete_prefix("u1")
    assert (await world.blobs.get("u1/f/original"), await world.blobs.get("u10/f/original")) == (None, b"10")
