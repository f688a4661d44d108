"""Text out of a document, by its sniffed media type: one extractor per type, found in a registry.

These functions parse what users upload with third-party parsers, so they run only inside the extraction process
(``extract_worker``), under its time and memory limits; the server itself never calls them. Each returns an
``ExtractedDocument`` or raises ``Unreadable`` with a ``Problem`` a person can act on.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from typing import Any

from parley.core.files import sniff
from parley.core.files.base import ExtractedDocument
from parley.core.history.imported import ImportLimits
from parley.core.history.safe_zip import check_declared_sizes
from parley.errors import InvalidInput


class Problem(StrEnum):
    """Why a file cannot be used; ``message`` says it to its owner."""

    UNSUPPORTED = "unsupported"
    ENCRYPTED = "encrypted"
    NO_TEXT = "no_text"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    DAMAGED = "damaged"

    def message(self, *, seconds: float = 0) -> str:
        return {
            Problem.UNSUPPORTED: (
                "This kind of file is not supported. Upload a PDF, Word, PowerPoint or Excel document, HTML, "
                "Markdown, plain text, CSV or source code, or a PNG, JPEG, GIF or WebP image."
            ),
            Problem.ENCRYPTED: "The file is password-protected. Remove the password and upload it again.",
            Problem.NO_TEXT: "No text was found in the file (a scanned document needs text recognition first).",
            Problem.TOO_LARGE: "The file is too large to read: it expands to more than this server reads.",
            Problem.TIMEOUT: f"Reading the file took too long (more than {seconds:g} s), so it was stopped.",
            Problem.DAMAGED: "The file is damaged, or not what it seems, and could not be read.",
        }[self]


class Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.value)


@dataclass(frozen=True)
class TextLimits:
    max_chars: int  # text past this is cut (``Extracted.truncated``)


@dataclass(frozen=True)
class Extracted:
    document: ExtractedDocument
    truncated: bool = False


Extractor = Callable[[bytes, TextLimits], Extracted]

_EXTRACTORS: dict[str, Extractor] = {}

# An Office document is a zip of XML: a few hundred members, inflating some tens of times over at most.
OFFICE_ZIP_LIMITS = ImportLimits(
    max_uncompressed_bytes=256 * 1024 * 1024, max_compression_ratio=100, max_zip_entries=5000
)


def extractor(*media_types: str) -> Callable[[Extractor], Extractor]:
    def register(function: Extractor) -> Extractor:
        for media_type in media_types:
            _EXTRACTORS[media_type] = function
        return function

    return register


def extract(data: bytes, media_type: str, limits: TextLimits) -> Extracted:
    """The text of a document of ``media_type``; ``Unreadable`` when there is none to be had."""
    try:
        found = _EXTRACTORS[media_type]
    except KeyError:
        raise Unreadable(Problem.UNSUPPORTED) from None
    extracted = found(data, limits)
    if not extracted.document.text.strip():
        raise Unreadable(Problem.NO_TEXT)
    return extracted


class _Text:
    """Text built a piece at a time, with where each page starts, cut at the limit."""

    def __init__(self, limits: TextLimits) -> None:
        self._pieces: list[str] = []
        self._length = 0
        self._max = limits.max_chars
        self.page_starts: list[int] = []
        self.truncated = False

    @property
    def full(self) -> bool:
        return self.truncated

    def new_page(self) -> None:
        # Where the page's first block will start: after the blank line that separates it from the text before.
        self.page_starts.append(self._length + 2 if self._length else 0)

    def add(self, piece: str) -> None:
        if self.truncated or not piece:
            return
        room = self._max - self._length
        if len(piece) > room:
            piece = piece[:room]
            self.truncated = True
        self._pieces.append(piece)
        self._length += len(piece)

    def add_block(self, block: str) -> None:
        """A paragraph (or a row, a slide's text box): separated from the one before by a blank line."""
        block = block.strip()
        if block:
            self.add(("\n\n" if self._length else "") + block)

    def result(self) -> Extracted:
        document = ExtractedDocument("".join(self._pieces), tuple(self.page_starts))
        return Extracted(document, self.truncated)


@extractor(sniff.PDF)
def _pdf(data: bytes, limits: TextLimits) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise Unreadable(Problem.ENCRYPTED)
        text = _Text(limits)
        for page in reader.pages:
            text.new_page()
            text.add_block(page.extract_text() or "")
            if text.full:
                break
    except PdfReadError:
        raise Unreadable(Problem.DAMAGED) from None
    return text.result()


def _opens_without_password(reader: Any) -> bool:
    """A PDF locked only against editing opens with the empty password; one that needs a password does not."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # pypdf's own errors, or a cipher it needs a missing library for: locked all the same
        return False


def _office_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_declared_sizes(archive, OFFICE_ZIP_LIMITS)
    except InvalidInput:
        raise Unreadable(Problem.TOO_LARGE) from None
    except (zipfile.BadZipFile, OSError):
        raise Unreadable(Problem.DAMAGED) from None


@extractor(sniff.DOCX)
def _docx(data: bytes, limits: TextLimits) -> Extracted:
    _office_zip(data)
    from docx import Document
    from docx.table import Table

    text = _Text(limits)
    for block in Document(io.BytesIO(data)).iter_inner_content():
        if isinstance(block, Table):
            for row in _table_rows(block.rows):
                text.add_block(row)
        else:
            text.add_block(block.text)
        if text.full:
            break
    return text.result()


def _table_rows(rows: Iterable[Any]) -> Iterator[str]:
    """A table's rows as lines of cells between tabs (a merged cell once, not once per column it spans)."""
    for row in rows:
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            if not cells or cells[-1] != value:
                cells.append(value)
        yield "\t".join(cells)


@extractor(sniff.PPTX)
def _pptx(data: bytes, limits: TextLimits) -> Extracted:
    _office_zip(data)
    from pptx import Presentation

    text = _Text(limits)
    for slide in Presentation(io.BytesIO(data)).slides:
        text.new_page()  # a slide is a page: citations say which
        for block in _shape_texts(slide.shapes):
            text.add_block(block)
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            text.add_block(frame.text if frame is not None else "")
        if text.full:
            break
    return text.result()


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None:  # a group
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield from _table_rows(shape.table.rows)


@extractor(sniff.XLSX)
def _xlsx(data: bytes, limits: TextLimits) -> Extracted:
    _office_zip(data)
    from openpyxl import load_workbook

    text = _Text(limits)
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            text.add_block(f"## {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                if any(value is not None and value != "" for value in row):
                    text.add("\n" + _csv_line(row))
                if text.full:
                    break
            if text.full:
                break
    finally:
        workbook.close()
    return text.result()


def _csv_line(row: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if value is None else value for value in row])
    return out.getvalue().rstrip(",")


@extractor(sniff.HTML)
def _html(data: bytes, limits: TextLimits) -> Extracted:
    decoded = sniff.decode_text(data)
    if decoded is None:
        raise Unreadable(Problem.DAMAGED)
    parser = _HtmlText(_Text(limits))
    parser.feed(decoded)
    parser.close()
    return parser.text.result()


class _HtmlText(HTMLParser):
    """The words of a page as its reader sees them: no scripts, styles or templates; a line break per block."""

    _HIDDEN = frozenset({"script", "style", "noscript", "template"})
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "title", "section", "article", "pre",
         "blockquote", "table", "ul", "ol", "hr", "header", "footer", "main", "nav", "dt", "dd"}
    )  # fmt: skip

    def __init__(self, text: _Text) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self._hidden = 0
        self._line: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        if tag in self._BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._line.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        line = " ".join("".join(self._line).split())
        self._line = []
        self.text.add_block(line)


@extractor(*sniff.TEXT_TYPES)
def _plain(data: bytes, limits: TextLimits) -> Extracted:
    decoded = sniff.decode_text(data)
    if decoded is None:
        raise Unreadable(Problem.DAMAGED)
    text = _Text(limits)
    text.add(decoded.replace("\r\n", "\n"))
    return text.result()


@extractor(sniff.COMPOUND)
def _compound(data: bytes, limits: TextLimits) -> Extracted:
    # A password-protected Word, Excel or PowerPoint file is a compound file holding an "EncryptionInfo" stream;
    # any other compound file is an Office document of before 2007, which is not read.
    if "EncryptionInfo".encode("utf-16-le") in data:
        raise Unreadable(Problem.ENCRYPTED)
    raise Unreadable(Problem.UNSUPPORTED)
