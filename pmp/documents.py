"""Files people upload (an applicant's licence copies, a help-desk ticket's screenshots):
checked, then stored in the uploading service's own database.

Staff open these files, so only formats their viewer handles safely are kept (PDF, JPEG,
PNG), and the type is read from the content, never from the name: a file named "license.pdf"
may be anything. Images are decoded with Pillow, which catches truncated and corrupt uploads
while the sender can still send a better copy. Contents are stored once per SHA-256, so an
upload sent twice (a retried request, a second application) costs nothing and the events refer
to a document by its hash. The registration and help-desk services share these rules; each
keeps its own ``document_contents`` table.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from PIL import Image

from pmp.db import Database, UtcDateTime

MAX_BYTES = 10 * 1024 * 1024
PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
EXTENSIONS = {PDF: (".pdf",), JPEG: (".jpg", ".jpeg"), PNG: (".png",)}
# Extensions of other document types; a name ending in one of these gets the right one instead.
_DOCUMENT_EXTENSIONS = {
    ".pdf", ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff",
    ".webp", ".heic", ".heif", ".doc", ".docx", ".odt", ".rtf", ".txt",
}  # fmt: skip
MAX_NAME_LENGTH = 120
PDF_EOF_WINDOW = 1024  # %%EOF must appear within the last 1024 bytes, as PDF readers expect
_UNSAFE_IN_NAMES = re.compile(r'[<>:"/\\|?*]')


class DocumentRejected(ValueError):
    """An upload the program will not keep; the message tells the applicant why, and what to do."""


@dataclass(frozen=True)
class Inspected:
    """What the program knows about an accepted upload."""

    sha256: str  # hex
    content_type: str  # PDF, JPEG or PNG
    size: int  # bytes
    filename: str  # safe to display and to offer as a download name


def inspect_document(filename: str, content: bytes) -> Inspected:
    """Check an upload and describe it; ``DocumentRejected`` says what is wrong with it."""
    if not content:
        raise DocumentRejected("The file is empty; choose the file again, or scan it again")
    if len(content) > MAX_BYTES:
        raise DocumentRejected(
            f"The file is {_megabytes(len(content))} MB; the limit is 10 MB. Scan it at a "
            "lower resolution, or send it in parts"
        )
    content_type = content_type_of(content)
    if content_type is None:
        raise DocumentRejected(
            "This file is not a PDF, JPEG or PNG; save or scan it in one of those formats"
        )
    if content_type == PDF:
        _check_pdf(content)
    else:
        _check_image(content)
    return Inspected(
        sha256=hashlib.sha256(content).hexdigest(),
        content_type=content_type,
        size=len(content),
        filename=display_name(filename, content_type),
    )


def _megabytes(size: int) -> str:
    """Size in MB with one decimal, rounded up so a file just over the limit never shows 10.0."""
    tenths = -(-size * 10 // (1024 * 1024))
    return f"{tenths // 10}.{tenths % 10}"


def content_type_of(content: bytes) -> str | None:
    """The type announced by the file's first bytes (its "magic number"), or None."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def _check_pdf(content: bytes) -> None:
    """A PDF that ends where a PDF ends: a cut-off upload has no %%EOF at its tail."""
    if b"%%EOF" not in content[-PDF_EOF_WINDOW:]:
        raise DocumentRejected(
            "This PDF is incomplete or damaged (it has no proper ending); save it again "
            "and upload the new copy"
        )


def _check_image(content: bytes) -> None:
    """Decode the image: ``verify()`` checks a PNG's structure and checksums, and decoding
    the pixels (at 1/8 scale for JPEG, to save memory) catches a truncated or corrupt stream.
    Images with more pixels than Pillow's decompression-bomb limit are refused too."""
    damaged = DocumentRejected(
        "This image is incomplete or damaged; save or scan it again and upload the new copy"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                image.verify()
            with Image.open(io.BytesIO(content)) as image:  # verify() leaves it unusable
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DocumentRejected(
            "This image has too many pixels; scan it at a lower resolution (300 dpi is plenty)"
        ) from None
    except Exception:  # Pillow raises many types for bad input; any of them means "damaged"
        raise damaged from None


def display_name(filename: str, content_type: str) -> str:
    """A name to show and to download under: no folders, no control or reserved characters,
    at most ``MAX_NAME_LENGTH`` characters, and an extension that matches the content."""
    name = unicodedata.normalize("NFC", str(filename))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in name)
    name = _UNSAFE_IN_NAMES.sub("_", name)
    name = " ".join(name.split()).lstrip(".- ")
    stem, dot, extension = name.rpartition(".")
    extension = f".{extension.lower()}" if dot else ""
    right = EXTENSIONS[content_type]
    if extension in right:
        suffix = extension
    elif extension in _DOCUMENT_EXTENSIONS:  # "scan.pdf" holding a PNG becomes "scan.png"
        suffix = right[0]
    else:  # "Dr. Smith" or "licence": the dot, if any, belongs to the name
        stem, suffix = name, right[0]
    stem = stem.rstrip(". ") or "document"
    return stem[: MAX_NAME_LENGTH - len(suffix)].rstrip(". ") + suffix


metadata = sa.MetaData()

document_contents = sa.Table(
    "document_contents",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("content_type", sa.String(50), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("stored_at", UtcDateTime(), nullable=False),
)


class DocumentStore:
    """Document contents by SHA-256, in the uploading service's database."""

    def __init__(self, db: Database):
        self.db = db

    def create_tables(self) -> None:
        self.db.create(metadata)

    def put(self, inspected: Inspected, content: bytes, now: datetime) -> bool:
        """Keep ``content`` unless it is already kept; True if it was new.

        The hash is checked against the content, so a mix-up between the two cannot store one
        file under another's name.
        """
        if hashlib.sha256(content).hexdigest() != inspected.sha256:
            raise ValueError("the content does not match the inspected document's hash")
        row = {
            "sha256": inspected.sha256,
            "content_type": inspected.content_type,
            "size": inspected.size,
            "content": content,
            "stored_at": now,
        }
        try:
            with self.db.write() as conn:
                if self._exists(conn, inspected.sha256):
                    return False
                conn.execute(document_contents.insert().values(**row))
                return True
        except sa.exc.IntegrityError:  # the same file, stored by a concurrent request first
            with self.db.read() as conn:
                if self._exists(conn, inspected.sha256):
                    return False
            raise

    @staticmethod
    def _exists(conn: sa.Connection, sha256: str) -> bool:
        query = sa.select(sa.func.count()).where(document_contents.c.sha256 == sha256)
        return bool(conn.scalar(query))

    def get(self, sha256: str) -> bytes | None:
        """The content with this hash, or None if none is kept."""
        with self.db.read() as conn:
            return conn.scalar(
                sa.select(document_contents.c.content).where(document_contents.c.sha256 == sha256)
            )
