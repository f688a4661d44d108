"""Nothing stays stuck or leaked when a process dies, on both stores: a restarted local server processes again what
it was processing, removes abandoned uploads and stale spooled bodies, and fails the imports it was running; and
the deadlines both homes apply when a user's files and jobs are read (the serverless home has no start-up) settle
uploads, processing and imports that died. Time is a clock the tests move, never a sleep."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from parley.core.files.background import BackgroundProcessing
from parley.core.files.base import ORIGINAL, FileLimits, FileStatus, blob_key
from parley.core.files.local_blobs import LocalFileBlobs
from parley.core.files.sandbox import SubprocessExtractor
from parley.core.files.service import (
    PROCESSING_WINDOW_SECONDS,
    UNFINISHED,
    UPLOAD_WINDOW_SECONDS,
    FileService,
)
from parley.core.history.jobs import (
    IMPORT_RUN_SECONDS,
    IMPORT_UPLOAD_WINDOW_SECONDS,
    NEVER_ARRIVED,
    STOPPED,
    settled,
)
from parley.core.providers.registry import ModelRegistry
from parley.core.store.base import ImportStatus
from parley.errors import NotFound, TooLarge
from parley.runtime import open_runtime
from parley.server.app import create_app
from parley.server.recovery import recover, remove_stale_spools
from tests.test_files_service import RecordingImages, RecordingIndexer

LIMITS = FileLimits(max_file_bytes=1024 * 1024, max_user_bytes=1024 * 1024, max_user_files=5, extract_seconds=30)
TEXT = b"The quarterly report.\n\nRevenue grew by a tenth, and costs stayed flat."


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def blobs(store_settings) -> LocalFileBlobs:
    return LocalFileBlobs(store_settings.files_dir)


@pytest.fixture
async def runtime(store_settings, stores, clock, blobs):
    async with open_runtime(store_settings, models=ModelRegistry(), stores=stores) as opened:
        files = FileService(
            stores.files,
            blobs,
            limits=LIMITS,
            extractor=SubprocessExtractor(LIMITS),
            images=RecordingImages(),
            indexer=RecordingIndexer(),
            clock=clock,
        )
        yield dataclasses.replace(opened, files=files)


@pytest.fixture
async def alice(stores) -> str:
    return (await stores.users.create_user("alice", "hash")).id


def spooled(runtime, content: bytes):
    path = runtime.settings.data_dir / f"spool-{os.urandom(4).hex()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


async def processing_file(runtime, user_id: str):
    """A file whose bytes are in and whose processing a stopped server never finished."""
    file = await runtime.files.upload(user_id, "report.txt", spooled(runtime, TEXT))
    assert file.status is FileStatus.PROCESSING
    return file


# The local server's start


async def test_a_restarted_server_processes_again_a_file_it_was_processing(runtime, alice, clock):
    file = await processing_file(runtime, alice)
    clock.now += 3 * 24 * 3600  # the server was down for days: the file is long past its processing window
    processing = BackgroundProcessing(runtime.files)
    try:
        recovered = await recover(runtime, processing)
        await processing.wait_idle()
    finally:
        await processing.aclose()
    assert recovered.files_resumed == 1
    again = await runtime.files.get(alice, file.id)
    assert again.status is FileStatus.READY, again.error
    assert (await runtime.files.document(alice, file.id)).text == TEXT.decode()


async def test_an_abandoned_upload_is_removed_with_its_bytes_and_frees_the_quota(runtime, blobs, alice, clock):
    abandoned = await runtime.files.start_upload(alice, "big.pdf", 900 * 1024)
    key = blob_key(alice, abandoned.id, ORIGINAL)
    await blobs.put(key, b"%PDF-1.7 the first part")  # partial bytes
    with pytest.raises(TooLarge):  # it holds the space it declared
        await runtime.files.start_upload(alice, "other.pdf", 200 * 1024)
    clock.now += UPLOAD_WINDOW_SECONDS - 60
    fresh = await runtime.files.start_upload(alice, "small.txt", 10)  # still within its window a while
    clock.now += 120  # the first is past its window; the second is not
    processing = BackgroundProcessing(runtime.files)
    await recover(runtime, processing)
    await processing.aclose()
    with pytest.raises(NotFound):
        await runtime.files.get(alice, abandoned.id)
    assert await blobs.size(key) is None
    assert [file.id for file in await runtime.files.list(alice)] == [fresh.id]
    await runtime.files.start_upload(alice, "other.pdf", 200 * 1024)  # the space is free again


async def test_stale_spooled_uploads_are_removed_and_fresh_ones_kept(runtime, alice):
    settings = runtime.settings
    stale_at = time.time() - UPLOAD_WINDOW_SECONDS - 60
    kept = []
    for directory in (settings.file_uploads_dir, settings.imports_dir):
        directory.mkdir(parents=True, exist_ok=True)
        stale, fresh, other = directory / "0123.upload", directory / "4567.upload", directory / "notes.txt"
        for path in (stale, fresh, other):
            path.write_bytes(b"bytes")
        os.utime(stale, (stale_at, stale_at))
        os.utime(other, (stale_at, stale_at))
        kept += [(stale, False), (fresh, True), (other, True)]  # only spooled bodies are removed
    processing = BackgroundProcessing(runtime.files)
    recovered = await recover(runtime, processing)
    await processing.aclose()
    assert recovered.spools_removed == 2
    assert [(path, path.exists()) for path, _ in kept] == kept


def test_a_missing_uploads_directory_has_nothing_to_remove(tmp_path):
    assert remove_stale_spools(tmp_path / "never-made", time.time()) == 0


async def test_imports_a_stopped_server_was_running_fail_with_a_plain_reason(runtime, alice, stores):
    jobs = stores.import_jobs
    running = await jobs.create_job(alice, "conversations.json", 100)
    await jobs.save_job(dataclasses.replace(running, status=ImportStatus.RUNNING, bytes_read=40))
    waiting = await jobs.create_job(alice, "later.json", 100)  # its file may still be uploaded after the restart
    done = await jobs.create_job(alice, "done.json", 100)
    await jobs.save_job(dataclasses.replace(done, status=ImportStatus.DONE, conversations_imported=3))
    processing = BackgroundProcessing(runtime.files)
    recovered = await recover(runtime, processing)
    await processing.aclose()
    assert recovered.imports_failed == 1
    failed = await jobs.get_job(alice, running.id)
    assert (failed.status, failed.error, failed.bytes_read) == (ImportStatus.FAILED, STOPPED, 40)
    assert (await jobs.get_job(alice, waiting.id)).status is ImportStatus.QUEUED
    assert (await jobs.get_job(alice, done.id)).status is ImportStatus.DONE


async def test_the_server_takes_up_what_it_left_when_it_starts(store_settings, stores, alice):
    """`parley serve`'s start-up, through the app's lifespan: a file left PROCESSING becomes READY."""
    settings = dataclasses.replace(store_settings, local_model=False, web_dir=None)
    async with open_runtime(settings, models=ModelRegistry(), stores=stores) as opened:
        file = await processing_file(opened, alice)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.file_processing.wait_idle()
        again = await app.state.runtime.files.get(alice, file.id)
    assert again.status is FileStatus.READY, again.error


# The deadlines applied when files and jobs are read (both homes; the serverless one's only way)


async def test_a_file_processing_past_its_deadline_is_an_error_that_takes_no_space(runtime, blobs, alice, clock):
    stuck = await processing_file(runtime, alice)  # the worker died (out of memory) and never wrote again
    clock.now += PROCESSING_WINDOW_SECONDS - 60
    assert (await runtime.files.get(alice, stuck.id)).status is FileStatus.PROCESSING  # may still finish
    recent = await processing_file(runtime, alice)
    clock.now += 120
    by_id = {file.id: file for file in await runtime.files.list(alice)}
    assert (by_id[stuck.id].status, by_id[stuck.id].error, by_id[stuck.id].size) == (FileStatus.ERROR, UNFINISHED, 0)
    assert by_id[recent.id].status is FileStatus.PROCESSING
    assert await blobs.size(blob_key(alice, stuck.id, ORIGINAL)) is None
    # Settled for good: the record says so to every reader, and a late worker leaves it as it is.
    assert (await runtime.stores.files.get_file(alice, stuck.id)).status is FileStatus.ERROR
    assert (await runtime.files.process(alice, stuck.id)).status is FileStatus.ERROR
    assert (await runtime.files.get(alice, stuck.id)).error == UNFINISHED


async def test_an_upload_past_its_window_is_gone_when_its_owner_reads_their_files(runtime, alice, clock):
    abandoned = await runtime.files.start_upload(alice, "never-posted.pdf", 1000)
    clock.now += UPLOAD_WINDOW_SECONDS + 1
    assert await runtime.files.list(alice) == []
    assert await runtime.stores.files.get_file(alice, abandoned.id) is None


@pytest.mark.parametrize(
    ("status", "age", "reason"),
    [
        (ImportStatus.RUNNING, IMPORT_RUN_SECONDS + 60, STOPPED),
        (ImportStatus.QUEUED, IMPORT_UPLOAD_WINDOW_SECONDS + 60, NEVER_ARRIVED),
        (ImportStatus.RUNNING, IMPORT_RUN_SECONDS - 60, None),
        (ImportStatus.QUEUED, IMPORT_UPLOAD_WINDOW_SECONDS - 60, None),
    ],
    ids=["running-dead", "queued-never-arrived", "running-alive", "queued-waiting"],
)
async def test_an_import_job_past_its_deadline_fails_with_a_plain_reason(stores, alice, status, age, reason):
    jobs = stores.import_jobs
    job = await jobs.create_job(alice, "conversations.json", 100)
    if status is not ImportStatus.QUEUED:
        await jobs.save_job(dataclasses.replace(job, status=status))
    job = await jobs.get_job(alice, job.id)
    seen = await settled(jobs, job, time.time() + age)
    stored = await jobs.get_job(alice, job.id)
    if reason is None:
        assert (seen.status, stored.status) == (status, status)
    else:
        assert (seen.status, seen.error) == (ImportStatus.FAILED, reason)
        assert (stored.status, stored.error) == (ImportStatus.FAILED, reason)
