"""What a file is and what text it holds, judged by its bytes: the extraction process's own logic, run here in the
test's process (the process around it is tested in test_files_service)."""

from __future__ import annotations

import io
import zipfile

import pytest

from parley.core.files import sniff
from parley.core.files.base import ExtractedDocument
from parley.core.files.extract import Problem, TextLimits
from parley.core.files.extract_worker import read_file
from parley.testing import sample_files

LIMITS = TextLimits(max_chars=100_000)


def test_a_pdf_gives_its_text_and_where_each_page_starts():
    answer = read_file(sample_files.pdf("The first page.", "", "Page three (with parentheses)."), LIMITS)
    assert (answer["media_type"], answer["kind"], answer["problem"]) == ("application/pdf", "document", None)
    text, starts = answer["text"], answer["page_starts"]
    assert "The first page." in text and "Page three (with parentheses)." in text
    assert len(starts) == 3  # the empty second page keeps the numbering of the third
    document = ExtractedDocument(text, tuple(starts))
    assert document.page_at(text.index("Page three")) == 3
    assert document.page_at(text.index("The first")) == 1


def test_a_password_protected_pdf_is_refused_as_such():
    answer = read_file(sample_files.pdf("Secret plans.", password="hunter2"), LIMITS)
    assert answer["problem"] == Problem.ENCRYPTED
    assert "password" in Problem.ENCRYPTED.message()
    assert "text" not in answer


def test_a_pdf_without_text_says_no_text_was_found():
    assert read_file(sample_files.pdf(""), LIMITS)["problem"] == Problem.NO_TEXT


def test_office_documents_give_their_paragraphs_tables_slides_and_rows():
    word = read_file(
        sample_files.docx("Quarterly report.", "Revenue grew.", table=[["Region", "Sales"], ["North", "12"]]), LIMITS
    )
    assert word["media_type"] == sniff.DOCX
    assert word["text"] == "Quarterly report.\n\nRevenue grew.\n\nRegion\tSales\n\nNorth\t12"

    slides = read_file(sample_files.pptx("Agenda", "Roadmap for 2027"), LIMITS)
    assert slides["media_type"] == sniff.PPTX
    assert slides["text"] == "Agenda\n\nRoadmap for 2027"
    assert ExtractedDocument(slides["text"], tuple(slides["page_starts"])).page_at(slides["text"].index("Roadmap")) == 2

    sheet = read_file(sample_files.xlsx([["item", "cost"], ["tea, green", 3.5], [None, None], ["milk", 1]]), LIMITS)
    assert sheet["media_type"] == sniff.XLSX
    assert sheet["text"] == '## Budget\nitem,cost\n"tea, green",3.5\nmilk,1'


def test_html_keeps_what_a_reader_sees_and_drops_scripts_and_styles():
    page = (
        b"<!doctype html><html><head><title>Notes</title><style>p{color:red}</style>"
        b"<script>alert('x')</script></head><body><h1>Plan</h1><p>Buy <b>milk</b> &amp; eggs.</p>"
        b"<noscript>enable js</noscript><ul><li>one</li><li>two</li></ul></body></html>"
    )
    answer = read_file(page, LIMITS)
    assert answer["media_type"] == "text/html"
    assert answer["text"] == "Notes\n\nPlan\n\nBuy milk & eggs.\n\none\n\ntwo"


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (b"# Title\n\nSome *text* and a [link](https://example.com).\n\n- one\n- two\n", "text/markdown"),
        (b"name,age,city\nAda,36,London\nAlan,41,Wilmslow\n", "text/csv"),
        (b"name\tage\nAda\t36\n", "text/tab-separated-values"),
        (b"import os\nfrom pathlib import Path\n\n\ndef main():\n    return Path(os.getcwd())\n", "text/x-python"),
        (b'#include <stdio.h>\n\nint main(void) {\n    printf("hi");\n    return 0;\n}\n', "text/x-c"),
        (b"const add = (a, b) => {\n  return a + b;\n};\nexport default add;\n", "text/javascript"),
        (b"#!/bin/sh\necho hello\n", "text/x-shellscript"),
        (b'{"a": [1, 2, 3]}', "application/json"),
        (b"Dear reader,\nthis is a plain letter.\nRegards.", "text/plain"),
        ("Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.".encode("cp1252"), "text/plain"),
        ("\ufeffUTF-16 text with a byte-order mark".encode("utf-16"), "text/plain"),
    ],
)
def test_text_is_told_apart_by_how_it_looks(content, media_type):
    answer = read_file(content, LIMITS)
    assert (answer["media_type"], answer["kind"], answer["problem"]) == (media_type, "document", None)
    assert answer["text"].strip()


def test_a_windows_1252_file_is_decoded_not_mangled():
    answer = read_file("Caf\u00e9 cr\u00e8me".encode("cp1252"), LIMITS)
    assert answer["text"] == "Caf\u00e9 cr\u00e8me"


def test_images_are_sniffed_by_their_magic_numbers_whatever_their_name():
    assert read_file(sample_files.png(), LIMITS) == {"media_type": "image/png", "kind": "image", "problem": None}
    assert sniff.sniff(b"\xff\xd8\xff\xe0" + b"\0" * 20) == "image/jpeg"
    assert sniff.sniff(b"GIF89a" + b"\0" * 20) == "image/gif"
    assert sniff.sniff(b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 20) == "image/webp"


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 8,  # binary
        b"\x7fELF\x02\x01\x01" + b"\0" * 100,  # a program
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',  # an image that runs scripts
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,  # a Word document of 2003
    ],
)
def test_what_is_not_read_is_unsupported(content):
    assert read_file(content, LIMITS)["problem"] == Problem.UNSUPPORTED


def test_a_zip_that_is_no_office_document_is_unsupported():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert read_file(out.getvalue(), LIMITS) == {
        "media_type": "application/zip",
        "kind": "document",
        "problem": "unsupported",
    }


def test_a_password_protected_office_document_says_so():
    compound = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 100
    assert read_file(compound, LIMITS)["problem"] == Problem.ENCRYPTED


def test_a_word_document_holding_a_zip_bomb_is_refused_before_it_inflates():
    answer = read_file(sample_files.docx_with_bomb(), LIMITS)
    assert (answer["media_type"], answer["problem"]) == (sniff.DOCX, Problem.TOO_LARGE)


def test_text_past_the_limit_is_cut_and_says_so():
    answer = read_file(b"word " * 1000, TextLimits(max_chars=100))
    assert len(answer["text"]) == 100 and answer["truncated"] is True
    pdf = read_file(sample_files.pdf("a" * 80, "b" * 80, "c" * 80), TextLimits(max_chars=100))
    assert len(pdf["text"]) == 100 and pdf["truncated"] is True and "c" not in pdf["text"]


def test_a_damaged_pdf_is_reported_as_damaged():
    answer = read_file(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer garbage", LIMITS)
    assert answer["media_type"] == "application/pdf"
    assert answer["problem"] == Problem.DAMAGED
