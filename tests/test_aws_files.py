"""Attached files on the serverless home: blobs in the files bucket, the presigned POST an upload goes to and the
presigned GET an original comes from, and the file worker the bucket's event runs (moto's S3 on loopback)."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
import time
import urllib.parse
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from parley.aws.files_bucket import (
    NoFilesBucket,
    S3FileBlobs,
    S3FileTransfer,
    file_of_key,
    original_key,
)
from parley.aws.functions.files import COULD_NOT_PROCESS, FileWorkerFunction, FileWorkerParts
from parley.aws.local.containers import LambdaContext
from parley.config import Settings
from parley.core.files.base import FileStatus, StoredFile
from parley.errors import ConfigError, TooLarge

EVENT = Path(__file__).parent / "events" / "s3_object_created.json"
USER, OTHER = uuid.uuid4().hex, uuid.uuid4().hex
LIMIT = 1024


@pytest.fixture
def s3(moto_server):
    return boto3.client("s3", endpoint_url=moto_server, config=Config(signature_version="s3v4"))


@pytest.fixture
def bucket(s3):
    name = f"files-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def keys(s3, bucket):
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def stored(size=5, status=FileStatus.UPLOADING, user=USER, name="notes.pdf"):
    now = time.time()
    return StoredFile(
        id=uuid.uuid4().hex, user_id=user, name=name, size=size, status=status, created_at=now, updated_at=now
    )


# The bucket's keys


def test_an_originals_key_names_its_user_and_file_and_no_other_key_does():
    assert original_key(USER, "f1") == f"files/{USER}/f1/original"
    assert file_of_key(f"files/{USER}/f1/original") == (USER, "f1")
    for key in (
        f"files/{USER}/f1/text.json",  # what the worker writes: no second run
        f"files/{USER}/f1/image",
        f"imports/{USER}/f1",
        f"files/{USER}/original",
        f"files/{USER}/f1/x/original",
        "files//f1/original",
        f"exports/{USER}/f1/original",
    ):
        assert file_of_key(key) is None, key


def test_the_buckets_take_posts_from_the_site_only():
    from parley.aws.upload_cors import upload_cors

    (rule,) = upload_cors("https://chat.example.com")["CORSRules"]
    assert (rule["AllowedOrigins"], rule["AllowedMethods"]) == (["https://chat.example.com"], ["POST"])


# FileBlobs


async def test_blobs_are_kept_under_files_and_read_back(s3, bucket):
    blobs = S3FileBlobs(s3, bucket)
    await blobs.put(f"{USER}/f1/original", b"%PDF-1.7 hello")
    await blobs.put(f"{USER}/f1/text.json", b'{"text": "hello"}')
    assert keys(s3, bucket) == [f"files/{USER}/f1/original", f"files/{USER}/f1/text.json"]
    assert await blobs.get(f"{USER}/f1/original") == b"%PDF-1.7 hello"
    assert await blobs.size(f"{USER}/f1/text.json") == len(b'{"text": "hello"}')
    assert await blobs.get(f"{USER}/f2/original") is None
    assert await blobs.size(f"{USER}/f2/original") is None


async def test_deleting_a_prefix_takes_that_file_or_user_and_nothing_else(s3, bucket):
    blobs = S3FileBlobs(s3, bucket)
    user_ten = USER + "0"  # a user id the first one is a prefix of
    for key in (f"{USER}/f1/original", f"{USER}/f1/image", f"{USER}/f2/original", f"{user_ten}/f3/original"):
        await blobs.put(key, b"x")
    await blobs.delete_prefix(f"{USER}/f1")
    assert keys(s3, bucket) == [f"files/{USER}/f2/original", f"files/{user_ten}/f3/original"]
    await blobs.delete_prefix(f"{USER}/")
    assert keys(s3, bucket) == [f"files/{user_ten}/f3/original"]
    for everything in ("", "/"):
        with pytest.raises(ValueError):
            await blobs.delete_prefix(everything)
    assert keys(s3, bucket) == [f"files/{user_ten}/f3/original"]


# Uploads and downloads


def policy_of(fields):
    return json.loads(base64.b64decode(fields["policy"]))


async def test_an_upload_goes_straight_to_the_files_original_capped_at_its_declared_size(s3, bucket):
    transfer = S3FileTransfer(s3, bucket, max_file_bytes=LIMIT)
    file = stored(size=5)
    target = await transfer.upload_target(file)
    assert target.fields["key"] == f"files/{USER}/{file.id}/original"
    assert target.max_bytes == 5
    policy = policy_of(target.fields)
    assert ["content-length-range", 1, 5] in policy["conditions"]
    assert {"key": f"files/{USER}/{file.id}/original"} in policy["conditions"]
    expires = policy["expiration"]  # 15 minutes from now, in the policy S3 checks
    assert expires.endswith("Z")
    async with httpx.AsyncClient(timeout=20) as browser:
        posted = await browser.post(target.url, data=target.fields, files={"file": ("notes.pdf", b"hello")})
    assert posted.status_code == 204, posted.text
    assert keys(s3, bucket) == [f"files/{USER}/{file.id}/original"]
    # A declared size past the limit (the route refuses it first) is still capped at the limit.
    assert (await transfer.upload_target(stored(size=LIMIT * 10))).max_bytes == LIMIT


async def test_an_original_is_downloaded_through_a_short_lived_link_as_an_attachment(s3, bucket):
    transfer = S3FileTransfer(s3, bucket, max_file_bytes=LIMIT)
    file = stored(name='résumé "final".pdf')
    await S3FileBlobs(s3, bucket).put(f"{USER}/{file.id}/original", b"%PDF-1.7")
    link = await transfer.download_link(file)
    assert link is not None and "X-Amz-Expires=300" in link
    async with httpx.AsyncClient(timeout=20) as browser:
        downloaded = await browser.get(link)
    assert downloaded.status_code == 200 and downloaded.content == b"%PDF-1.7"
    disposition = downloaded.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="r_sum_ _final_.pdf"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf" in disposition


async def test_without_the_bucket_uploads_are_refused_with_the_reason():
    for call in (NoFilesBucket().upload_target, NoFilesBucket().download_link):
        with pytest.raises(ConfigError, match="PARLEY_FILES_BUCKET"):
            await call(stored())


# The file worker


class Records:
    """An in-memory FileStore: what the worker reads and writes of the records."""

    def __init__(self, *files: StoredFile) -> None:
        self.files = {(file.user_id, file.id): file for file in files}

    async def get_file(self, user_id, file_id):
        return self.files.get((user_id, file_id))

    async def save_file(self, file):
        self.files[(file.user_id, file.id)] = file


class Processing:
    def __init__(self, records: Records, *, fail: Exception | None = None, seconds: float = 0.0) -> None:
        self.records, self.fail, self.seconds, self.calls = records, fail, seconds, []

    async def process(self, user_id, file_id):
        self.calls.append((user_id, file_id))
        await asyncio.sleep(self.seconds)
        if self.fail is not None:
            raise self.fail
        file = self.records.files[(user_id, file_id)]
        self.records.files[(user_id, file_id)] = dataclasses.replace(file, status=FileStatus.READY)


@dataclasses.dataclass
class Worker:
    """The file worker over one file's record, and the bucket its event names."""

    function: FileWorkerFunction
    records: Records
    processing: Processing
    s3: object
    bucket: str

    def arrive(self, key: str, body: bytes = b"hello", *, remaining: float = 120.0) -> None:
        """An object is created at ``key``, and its event runs the worker (with ``remaining`` seconds to run)."""
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.function(event_for(self.bucket, key), LambdaContext("file_worker", timeout_ms=int(remaining * 1000)))


@pytest.fixture
def worker_for(moto_server, s3, bucket, tmp_path):
    made = []

    def make(file: StoredFile, **processing_options) -> Worker:
        records = Records(file)
        processing = Processing(records, **processing_options)
        settings = Settings(
            data_dir=tmp_path / "lambda", store="sqlite", aws_endpoint_url=moto_server, files_bucket=bucket
        )
        function = FileWorkerFunction(settings, env={}, parts=FileWorkerParts(records, processing))
        made.append(function)
        return Worker(function, records, processing, s3, bucket)

    yield make
    for function in made:
        function.close()


def event_for(bucket, key):
    event = copy.deepcopy(json.loads(EVENT.read_text()))
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    event["Records"][0]["s3"]["object"]["key"] = urllib.parse.quote_plus(key)
    return event


def test_the_saved_event_names_an_original():
    key = json.loads(EVENT.read_text())["Records"][0]["s3"]["object"]["key"]
    assert file_of_key(urllib.parse.unquote_plus(key)) is not None


def test_an_uploaded_original_is_processed_once(worker_for):
    file = stored(size=5)
    worker = worker_for(file)
    worker.arrive(original_key(USER, file.id))
    assert worker.processing.calls == [(USER, file.id)]
    assert worker.records.files[(USER, file.id)].status is FileStatus.READY
    # The same event again (S3 delivers at least once), or the original posted again: not processed twice.
    worker.arrive(original_key(USER, file.id))
    assert worker.processing.calls == [(USER, file.id)]


def test_what_processing_writes_and_stray_objects_run_nothing(worker_for):
    file = stored(size=5)
    worker = worker_for(file)
    for key in (f"files/{USER}/{file.id}/text.json", f"files/{USER}/{file.id}/image", f"files/{USER}/stray"):
        worker.arrive(key)
    # An original whose record is another user's, or gone: nobody's file is processed.
    worker.arrive(original_key(OTHER, file.id))
    assert worker.processing.calls == []
    assert worker.records.files[(USER, file.id)].status is FileStatus.UPLOADING


def test_bytes_for_a_file_that_is_gone_are_not_kept(s3, bucket, worker_for):
    # Deleted meanwhile, or an upload abandoned past its window (removed when its owner listed their files) whose
    # bytes came after all: nobody's file is processed, and the bytes are not left in the bucket.
    file = stored(size=5)
    worker = worker_for(file)
    worker.arrive(original_key(USER, uuid.uuid4().hex))
    assert worker.processing.calls == []
    assert keys(s3, bucket) == []


def test_an_original_larger_than_declared_is_refused_unread(s3, bucket, worker_for):
    file = stored(size=5)
    worker = worker_for(file)
    worker.arrive(original_key(USER, file.id), b"hello, and more than declared")
    assert worker.processing.calls == []
    failed = worker.records.files[(USER, file.id)]
    assert (failed.status, failed.error) == (FileStatus.ERROR, TooLarge.default_message)
    assert keys(s3, bucket) == []  # what was not declared (nor counted against the quota) is not kept


def test_a_file_uploaded_in_one_step_through_the_api_is_processed_on_its_event(worker_for):
    # POST /api/files on AWS keeps the original in the bucket and marks the file processing; the event runs it.
    file = stored(size=5, status=FileStatus.PROCESSING)
    worker = worker_for(file)
    worker.arrive(original_key(USER, file.id))
    assert worker.processing.calls == [(USER, file.id)]


@pytest.mark.parametrize(
    ("fail", "seconds", "remaining"),
    [(RuntimeError("parser crashed"), 0.0, 120.0), (None, 5.0, 10.5)],
    ids=["failed", "outlasted-the-function"],
)
def test_a_file_the_worker_cannot_finish_is_marked_error(worker_for, fail, seconds, remaining):
    file = stored(size=5)
    worker = worker_for(file, fail=fail, seconds=seconds)
    started = time.monotonic()
    worker.arrive(original_key(USER, file.id), remaining=remaining)
    assert time.monotonic() - started < 4  # stopped before Lambda's timeout would have ended the run
    failed = worker.records.files[(USER, file.id)]
    assert (failed.status, failed.error) == (FileStatus.ERROR, COULD_NOT_PROCESS)
    assert "parser crashed" not in str(failed.error)  # the detail goes to the log, not to the user


async def test_the_emulated_notification_delivers_originals_only_once_each(s3, bucket):
    """`make aws-local`'s stand-in for the bucket's event: the deployed filter (files/ ... /original), once an
    object, as S3's event shape."""
    from parley.aws.local.bucket_events import BucketNotification

    class Pool:
        name = "file_worker"

        def __init__(self):
            self.events = []

        async def invoke(self, event):
            self.events.append(event)

    pool = Pool()
    notification = BucketNotification(s3, bucket, "files/", pool, suffix="/original")
    for key in (original_key(USER, "f1"), f"files/{USER}/f1/text.json", f"files/{USER}/f1/image", "imports/u/j"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    await notification.poll()
    await notification.poll()
    await asyncio.sleep(0.1)  # deliveries run as tasks, as S3's are asynchronous
    delivered = [urllib.parse.unquote_plus(e["Records"][0]["s3"]["object"]["key"]) for e in pool.events]
    assert delivered == [original_key(USER, "f1")]
    assert file_of_key(delivered[0]) == (USER, "f1")


async def test_removing_a_user_of_a_deployment_removes_their_files_from_its_bucket(
    moto_server, dynamodb_table, s3, bucket, tmp_path, monkeypatch
):
    """`parley users remove NAME --store dynamodb` with the deployment's PARLEY_FILES_BUCKET: their files go from
    the bucket (not from this machine's data directory), another user's stay."""
    import io

    from parley.aws.dynamodb import dynamo_stores
    from parley.cli.main import main as parley_cli

    for name, value in {
        "PARLEY_STORE": "dynamodb",
        "PARLEY_DYNAMODB_TABLE": dynamodb_table,
        "AWS_ENDPOINT_URL": moto_server,
        "PARLEY_FILES_BUCKET": bucket,
        "PARLEY_DATA_DIR": str(tmp_path / "cli"),
        "PARLEY_LOCAL_MODEL": "off",
    }.items():
        monkeypatch.setenv(name, value)
    users = dynamo_stores(boto3.client("dynamodb", endpoint_url=moto_server), dynamodb_table).users
    ids = {}
    for name in ("alice", "bob"):
        monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-password\n"))
        assert await asyncio.to_thread(parley_cli, ["users", "add", name, "--password-stdin"]) == 0
        ids[name] = (await users.get_user_by_name(name)).id
        s3.put_object(Bucket=bucket, Key=original_key(ids[name], "f1"), Body=b"notes")
    assert await asyncio.to_thread(parley_cli, ["users", "remove", "alice"]) == 0
    assert keys(s3, bucket) == [original_key(ids["bob"], "f1")]
