"""What a file is, judged by its bytes alone (never by its name): magic numbers for PDF and images, the members of a
zip for Word, PowerPoint and Excel documents, and for text the way its lines look (HTML, Markdown, CSV, source
code, plain text).

A file's name and the type its browser claimed are never consulted: a PNG named ``report.pdf`` is an image, an
HTML page named ``notes.txt`` is HTML (and is never served as a page).
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile

from parley.core.files.base import FileKind

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# An OLE2 compound file: a Word/Excel document of before 2007, or a password-protected new one.
COMPOUND = "application/x-ole-storage"
ZIP = "application/zip"  # a zip that is not an Office document

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
SVG = "image/svg+xml"  # a page that can run scripts: never taken

HTML = "text/html"
MARKDOWN = "text/markdown"
CSV = "text/csv"
TSV = "text/tab-separated-values"
PLAIN = "text/plain"
JSON_TEXT = "application/json"
XML = "text/xml"
PYTHON = "text/x-python"
JAVASCRIPT = "text/javascript"
C_LIKE = "text/x-c"
SHELL = "text/x-shellscript"
SOURCE = "text/x-source"  # code, of a language not told apart

IMAGE_TYPES = frozenset({PNG, JPEG, GIF, WEBP})
TEXT_TYPES = frozenset({MARKDOWN, CSV, TSV, PLAIN, JSON_TEXT, XML, PYTHON, JAVASCRIPT, C_LIKE, SHELL, SOURCE})

_SAMPLE = 64 * 1024
_OOXML_MAIN_PARTS = (("word/document.xml", DOCX), ("ppt/presentation.xml", PPTX), ("xl/workbook.xml", XLSX))
_MAX_ZIP_NAMES = 10_000


def kind_of(media_type: str) -> FileKind:
    return FileKind.IMAGE if media_type in IMAGE_TYPES else FileKind.DOCUMENT


def sniff(data: bytes) -> str:
    """The media type of ``data``; "" when it is none that Parley reads (a binary of another kind)."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if b"%PDF-" in data[:1024]:  # readers accept a PDF header a little way in, after junk
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return COMPOUND
    text = decode_text(data[:_SAMPLE], sample=len(data) > _SAMPLE)
    if text is None:
        return ""
    return text_type(text)


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > _MAX_ZIP_NAMES:
                return ZIP
            names = {info.filename for info in infos}
    except (zipfile.BadZipFile, OSError, ValueError):
        return ""
    for part, media_type in _OOXML_MAIN_PARTS:
        if part in names:
            return media_type
    return ZIP


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def decode_text(data: bytes, *, sample: bool = False) -> str | None:
    """``data`` as text: UTF-8 (or UTF-16/32 with a byte-order mark), else Windows-1252, else Latin-1; None when
    it does not look like text at all (NUL bytes, or more than 1% control characters). With ``sample``, ``data``
    is the start of a longer file (a character cut at its end is not an error)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            break
    else:
        if b"\x00" in data:
            return None
        text = _decode_8bit(data, sample=sample)
    controls = len(_CONTROL.findall(text[:_SAMPLE]))
    if controls > max(1, len(text[:_SAMPLE]) // 100):
        return None
    return text


def _decode_8bit(data: bytes, *, sample: bool) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if sample and error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            return data[: error.start].decode("utf-8")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_HTML = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
_SVG = re.compile(r"<svg[\s>]", re.IGNORECASE)
_MARKDOWN_SIGNS = (
    re.compile(r"^#{1,6}\s+\S", re.MULTILINE),  # a heading
    re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\S", re.MULTILINE),  # a list item
    re.compile(r"^(?:```|~~~)", re.MULTILINE),  # a fenced block
    re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"),  # a link
    re.compile(r"(?:\*\*|__)[^*_\n]+(?:\*\*|__)"),  # bold
    re.compile(r"^>\s", re.MULTILINE),  # a quote
)
_CODE_SIGNS = (
    (PYTHON, re.compile(r"^(?:def|class)\s+\w+.*:\s*$|^(?:from\s+[\w.]+\s+)?import\s+[\w.]+", re.MULTILINE)),
    (C_LIKE, re.compile(r"^#include\s*[<\"]|\bint\s+main\s*\(|^#define\s+\w+", re.MULTILINE)),
    (JAVASCRIPT, re.compile(r"\b(?:function\s+\w+\s*\(|const\s+\w+\s*=|let\s+\w+\s*=|=>\s*\{|export\s+default)")),
)
_CODE_LINE = re.compile(r"[;{}]\s*$|^\s*[{}]\s*$")


def text_type(text: str) -> str:
    """Which kind of text this is, by the way its first lines look."""
    sample = text[:_SAMPLE].lstrip()
    if _HTML.search(sample[:4096]):
        return HTML
    if _SVG.search(sample[:4096]):
        return SVG
    if sample.startswith(("{", "[")) and _is_json(text):
        return JSON_TEXT
    if sample.startswith("<?xml"):
        return XML
    if sample.startswith("#!"):
        first = sample.splitlines()[0]
        return PYTHON if "python" in first else SHELL
    lines = [line for line in sample.splitlines()[:200] if line.strip()]
    separated = _separated_values(lines)
    if separated:
        return separated
    code = _code_type(sample, lines)
    markdown = sum(1 for sign in _MARKDOWN_SIGNS if sign.search(sample))
    if code and not markdown >= 2:
        return code
    if markdown >= 2 or (markdown == 1 and _MARKDOWN_SIGNS[0].search(sample)):
        return MARKDOWN
    return PLAIN


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _separated_values(lines: list[str]) -> str | None:
    """CSV (or TSV) when at least two lines each have the same number (one or more) of one separator."""
    rows = lines[:20]
    if len(rows) < 2:
        return None
    for separator, media_type in (("\t", TSV), (",", CSV), (";", CSV)):
        counts = {row.count(separator) for row in rows}
        if len(counts) == 1 and counts.pop() >= 1:
            return media_type
    return None


def _code_type(sample: str, lines: list[str]) -> str | None:
    for media_type, sign in _CODE_SIGNS:
        if len(sign.findall(sample)) >= 2:
            return media_type
    if len(lines) >= 3 and sum(1 for line in lines if _CODE_LINE.search(line)) >= len(lines) * 0.3:
        return SOURCE
    return None
