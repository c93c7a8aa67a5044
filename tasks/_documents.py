"""Text out of files users hand the bot (``/kb add`` with a .txt, .md or .pdf file).

Every check that can be made from the platform's description of the file
(type, size) is made before it is downloaded, and the size is checked again
on the bytes, since not every platform states it. PDF text comes from pypdf,
off the event loop: extraction of a few megabytes takes long enough to stall
every other chat. Each refusal is one sentence the user can act on.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import PurePath

from bot.errors import UserError
from bot.messages import Attachment

log = logging.getLogger(__name__)

#: The largest file accepted (bytes); the same for every platform.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: The most text kept from one file: a compressed PDF can hold far more than its size.
MAX_TEXT_CHARS = 2_000_000
#: File name endings accepted → how their text is read.
KINDS = {".txt": "text", ".md": "text", ".markdown": "text", ".pdf": "pdf"}
_MIME_KINDS = {"text/plain": "text", "text/markdown": "text", "application/pdf": "pdf"}
ACCEPTED = ".txt, .md or .pdf"


def kind_of(attachment: Attachment) -> str | None:
    """``"text"`` or ``"pdf"`` by the file name's ending (else its MIME type); None otherwise."""
    suffix = PurePath(attachment.name).suffix.lower()
    if suffix:
        return KINDS.get(suffix)
    return _MIME_KINDS.get((attachment.mime_type or "").partition(";")[0].strip().lower())


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_big(attachment: Attachment, size: int, limit: int) -> UserError:
    return UserError(
        f"{attachment.name} is too big ({_megabytes(size)}); the limit is {_megabytes(limit)}."
    )


async def document_text(attachment: Attachment, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of ``attachment``, or a :class:`UserError` saying why it cannot be used."""
    kind = kind_of(attachment)
    if kind is None:
        raise UserError(
            f"I can only add {ACCEPTED} files to the knowledge base, not {attachment.name}."
        )
    if attachment.size is not None and attachment.size > max_bytes:
        raise _too_big(attachment, attachment.size, max_bytes)
    data = await attachment.read()
    if len(data) > max_bytes:
        raise _too_big(attachment, len(data), max_bytes)
    text = _decoded(attachment, data) if kind == "text" else await _pdf_text(attachment, data)
    text = text.replace("\x00", "").strip()
    if not text:
        raise UserError(f"I found no text in {attachment.name} (a scan holds only images).")
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(
            f"{attachment.name} holds too much text ({len(text):,} characters); "
            f"the limit is {MAX_TEXT_CHARS:,}. Split it into smaller files."
        )
    return text


def _decoded(attachment: Attachment, data: bytes) -> str:
    """UTF-8 (with or without a byte order mark), the encoding of text files today."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(
            f"{attachment.name} is not UTF-8 text; save it as UTF-8 and send it again."
        ) from None


async def _pdf_text(attachment: Attachment, data: bytes) -> str:
    try:
        return await asyncio.to_thread(_extract_pdf, data)
    except Exception as exc:  # pypdf raises many kinds for damaged or encrypted files
        log.info("could not read PDF %s: %s: %s", attachment.name, type(exc).__name__, exc)
        raise UserError(
            f"I could not read {attachment.name} as a PDF (damaged or password-protected?)."
        ) from None


def _extract_pdf(data: bytes) -> str:
    """The text of every page, pages separated by blank lines (passages break there)."""
    from pypdf import PdfReader  # imported on first use: only /kb add with a PDF needs it

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):  # only an owner password: readable
        raise ValueError("encrypted")
    pages: list[str] = []
    total = 0
    for page in reader.pages:
        text = page.extract_text() or ""
        pages.append(text.strip())
        total += len(text)
        if total > MAX_TEXT_CHARS:
            break  # enough to refuse the file; no need to read the rest
    return "\n\n".join(page for page in pages if page)
