"""Uploaded zips are read without trusting their headers: too many files, a bomb, a lie about sizes."""

from __future__ import annotations

import zipfile

import pytest

from parley.core.history.imported import ImportLimits
from parley.core.history.safe_zip import looks_like_zip, member_names, open_member
from parley.errors import InvalidInput


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_member_is_read_whole(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"conversations.json": b"[]", "folder/note.txt": b"hello"})
    assert looks_like_zip(path)
    assert sorted(member_names(path, ImportLimits())) == ["conversations.json", "folder/note.txt"]
    with open_member(path, "folder/note.txt", ImportLimits()) as member:
        assert member.read() == b"hello"


def test_a_file_that_is_not_a_zip_is_refused_clearly(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04 but nothing after")
    with pytest.raises(InvalidInput, match="not a readable zip"):
        member_names(path, ImportLimits())
    assert not looks_like_zip(make_text(tmp_path))


def make_text(tmp_path):
    path = tmp_path / "plain.json"
    path.write_text("[]")
    return path


def test_a_member_missing_is_named(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"x.json": b"{}"})
    missing = open_member(path, "conversations.json", ImportLimits())
    with pytest.raises(InvalidInput, match=r"conversations\.json"), missing:
        pass


def test_too_many_files_are_refused(tmp_path):
    path = make_zip(tmp_path / "many.zip", {f"f{n}": b"" for n in range(11)})
    with pytest.raises(InvalidInput, match="more than 10 files"):
        member_names(path, ImportLimits(max_zip_entries=10))


def test_a_bomb_is_refused_by_its_declared_size(tmp_path):
    path = make_zip(tmp_path / "bomb.zip", {"conversations.json": b"\0" * (8 * 1024 * 1024)})
    limits = ImportLimits(max_uncompressed_bytes=4 * 1024 * 1024)
    with pytest.raises(InvalidInput, match="zip bomb"), open_member(path, "conversations.json", limits):
        pass


def test_a_header_that_lies_about_the_size_is_caught_while_reading(tmp_path):
    path = make_zip(tmp_path / "liar.zip", {"conversations.json": b"\0" * (3 * 1024 * 1024)})
    _rewrite_declared_size(path, "conversations.json", 10)
    limits = ImportLimits(max_uncompressed_bytes=2 * 1024 * 1024)
    with pytest.raises(InvalidInput), open_member(path, "conversations.json", limits) as member:
        while member.read(64 * 1024):
            pass


def _rewrite_declared_size(path, name, size):
    """Patch the central directory's uncompressed size (what zipfile trusts) to a lie."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    central = data.rfind(b"PK\x01\x02")
    assert central > 0 and info.file_size > size
    data[central + 24 : central + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))
