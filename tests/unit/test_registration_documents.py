"""Uploaded documents: judged by their content, never their name; stored once per hash."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest
from fpdf import FPDF
from PIL import Image

from pmp.documents import (
    MAX_BYTES,
    DocumentRejected,
    DocumentStore,
    inspect_document,
)

NOW = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)


def image_bytes(kind: str, size: tuple[int, int] = (120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, kind)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Licence of Dr. Zoë Øvergaard")
    return bytes(pdf.output())


PNG, JPEG, PDF = image_bytes("PNG"), image_bytes("JPEG"), pdf_bytes()


@pytest.mark.parametrize(
    ("content", "content_type", "shown"),
    [
        (PDF, "application/pdf", "licence.pdf"),
        (JPEG, "image/jpeg", "licence.jpg"),
        (PNG, "image/png", "licence.png"),
    ],
)
def test_pdf_jpeg_and_png_are_accepted_and_described(content, content_type, shown):
    inspected = inspect_document(f"licence{shown[-4:]}", content)

    assert inspected.content_type == content_type
    assert inspected.size == len(content)
    assert inspected.sha256 == hashlib.sha256(content).hexdigest()
    assert inspected.filename == shown


def test_a_png_named_pdf_is_accepted_as_a_png_and_named_so():
    inspected = inspect_document("scan.pdf", PNG)

    assert inspected.content_type == "image/png"
    assert inspected.filename == "scan.png"  # so it opens in an image viewer when downloaded


def test_a_text_file_named_pdf_is_refused():
    with pytest.raises(DocumentRejected, match="not a PDF, JPEG or PNG"):
        inspect_document("licence.pdf", b"This is my licence number: 047123\n")


def test_an_office_document_is_refused_whatever_its_name():
    docx = b"PK\x03\x04" + bytes(200)  # a .docx is a zip archive

    with pytest.raises(DocumentRejected, match="not a PDF, JPEG or PNG"):
        inspect_document("licence.png", docx)


def test_an_empty_file_is_refused():
    with pytest.raises(DocumentRejected, match="empty"):
        inspect_document("licence.pdf", b"")


def test_ten_megabytes_are_accepted_and_one_byte_more_is_refused():
    padding = b"\n" * (MAX_BYTES - len(PDF))
    exactly = PDF[:-6] + padding + PDF[-6:]  # still ends with %%EOF
    assert len(exactly) == MAX_BYTES
    assert inspect_document("big.pdf", exactly).size == MAX_BYTES

    with pytest.raises(DocumentRejected) as refused:
        inspect_document("big.pdf", exactly + b"\n")
    assert str(refused.value).startswith("The file is 10.1 MB; the limit is 10 MB")


def test_the_size_is_given_in_megabytes():
    with pytest.raises(DocumentRejected, match=r"^The file is 12\.3 MB; the limit is 10 MB"):
        inspect_document("huge.pdf", PDF + bytes(int(12.25 * 1024 * 1024)))


@pytest.mark.parametrize(("name", "content"), [("scan.png", PNG), ("photo.jpg", JPEG)])
def test_a_truncated_image_is_refused(name, content):
    with pytest.raises(DocumentRejected, match="incomplete or damaged"):
        inspect_document(name, content[: len(content) * 2 // 3])


def test_a_png_with_a_corrupted_byte_is_refused():
    damaged = bytearray(PNG)
    damaged[60] ^= 0xFF  # inside the image data: its checksum no longer matches

    with pytest.raises(DocumentRejected, match="incomplete or damaged"):
        inspect_document("scan.png", bytes(damaged))


def test_a_pdf_cut_off_before_its_end_is_refused():
    with pytest.raises(DocumentRejected, match="PDF is incomplete or damaged"):
        inspect_document("licence.pdf", PDF[: len(PDF) // 2])


def test_a_file_that_only_starts_like_a_pdf_is_refused():
    with pytest.raises(DocumentRejected, match="PDF is incomplete or damaged"):
        inspect_document("licence.pdf", b"%PDF-1.7\nnot really\n")


@pytest.mark.parametrize(
    ("uploaded", "shown"),
    [
        ("C:\\Users\\zoe\\Desktop\\My Licence.PDF", "My Licence.pdf"),
        ("../../etc/passwd", "passwd.pdf"),
        ('copy "final" <2>?.pdf', "copy _final_ _2__.pdf"),
        ("line\nbreak\x00.pdf", "line break.pdf"),
        ("Dr. Lee", "Dr. Lee.pdf"),
        ("", "document.pdf"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_names_are_made_safe_to_show_and_download(uploaded, shown):
    assert inspect_document(uploaded, PDF).filename == shown


def test_rejections_are_value_errors_for_callers_that_catch_those():
    assert issubclass(DocumentRejected, ValueError)


@pytest.fixture
def store(database) -> DocumentStore:
    store = DocumentStore(database)
    store.create_tables()
    return store


def test_a_stored_document_comes_back_as_it_went_in(store):
    inspected = inspect_document("scan.png", PNG)

    assert store.put(inspected, PNG, NOW) is True

    assert store.get(inspected.sha256) == PNG
    assert store.get(hashlib.sha256(b"other").hexdigest()) is None


def test_storing_the_same_file_twice_keeps_one_copy(store):
    inspected = inspect_document("scan.png", PNG)
    store.put(inspected, PNG, NOW)

    assert store.put(inspect_document("another name.png", PNG), PNG, NOW) is False

    assert store.get(inspected.sha256) == PNG


def test_content_that_does_not_match_its_hash_is_not_stored(store):
    inspected = inspect_document("scan.png", PNG)

    with pytest.raises(ValueError, match="does not match"):
        store.put(inspected, JPEG, NOW)
    assert store.get(inspected.sha256) is None
