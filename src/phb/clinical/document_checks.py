"""What a file must be to go on a patient's record: its type detected from its first bytes (magic
numbers), agreeing with the type and extension it was declared with; a PDF that opens without a password
and carries no script, launch action or embedded file; an image that decodes; a file name made safe.

Pure functions over bytes, no database: each refusal is a `ValidationFailed` on the field "file" (or
"filename") with a stable code (REFUSALS), so clients branch on the code. See docs/clinical.md,
"Documents"."""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
import warnings
import zlib
from dataclasses import dataclass

from phb.kernel.errors import ValidationFailed

# code -> what it means (the codes are stable; the messages may be reworded)
REFUSALS = {
    "required": "no file was sent",
    "empty_file": "the file is empty",
    "too_large": "the file is larger than the limit",
    "unsupported_type": "the content is not a PDF, PNG, JPEG or TIFF file",
    "content_type_mismatch": "the declared content type is not the one of the content",
    "extension_mismatch": "the file name's extension is not one of the content's type",
    "invalid_filename": "nothing is left of the file name once made safe",
    "pdf_malformed": "the PDF is truncated or damaged, or a part of it cannot be checked",
    "pdf_encrypted": "the PDF is encrypted or password-protected",
    "pdf_active_content": "the PDF holds JavaScript, a launch action, a form submission or XFA forms",
    "pdf_embedded_file": "the PDF holds embedded or attached files",
    "image_unreadable": "the image does not decode (damaged, truncated, or too many pixels)",
}


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    extensions: tuple[str, ...]
    declared_as: tuple[str, ...]  # the declared content types that name it
    pillow_format: str = ""


PDF = FileType("application/pdf", "PDF", (".pdf",), ("application/pdf", "application/x-pdf"))
PNG = FileType("image/png", "PNG image", (".png",), ("image/png", "image/x-png"), "PNG")
JPEG = FileType(
    "image/jpeg", "JPEG image", (".jpg", ".jpeg", ".jpe", ".jfif"), ("image/jpeg", "image/jpg", "image/pjpeg"), "JPEG"
)
TIFF = FileType("image/tiff", "TIFF image", (".tif", ".tiff"), ("image/tiff",), "TIFF")
ACCEPTED = (PDF, PNG, JPEG, TIFF)
BY_CONTENT_TYPE = {t.content_type: t for t in ACCEPTED}

FILENAME_MAX_CHARS = 150
FILENAME_MAX_BYTES = 240  # UTF-8, under the 255 bytes most file systems allow
_EXTENSION_MAX = 10


def refuse(code: str, message: str | None = None, *, field: str = "file") -> ValidationFailed:
    return ValidationFailed.field(field, message or REFUSALS[code], code=code)


def detect(head: bytes) -> FileType | None:
    """The accepted type whose signature `head` (the first bytes) starts with, if any."""
    if head.startswith(b"%PDF-") and head[5:6].isdigit():
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    return None


def _declared_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def check(data: bytes, *, declared_type: str, filename: str, max_bytes: int) -> FileType:
    """The type of `data` when it may be kept, or the refusal (raised) that says why not. `filename` is
    the already sanitised name (`safe_filename`)."""
    if not data:
        raise refuse("empty_file")
    if len(data) > max_bytes:
        raise refuse("too_large", f"the file is larger than {max_bytes // (1024 * 1024)} MB")
    file_type = detect(data[:16])
    if file_type is None:
        raise refuse("unsupported_type")
    if _declared_type(declared_type) not in file_type.declared_as:
        raise refuse(
            "content_type_mismatch", f"the content is a {file_type.label}: declare it as {file_type.content_type}"
        )
    extension = "." + filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension not in file_type.extensions:
        raise refuse(
            "extension_mismatch", f"the content is a {file_type.label}: name it {' or '.join(file_type.extensions)}"
        )
    if file_type is PDF:
        check_pdf(data)
    else:
        check_image(data, file_type)
    return file_type


# --- file names ---------------------------------------------------------------------------------------

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners: part of how some scripts spell words


def safe_filename(name: str) -> str:
    """A file name safe to show and to offer for download: the last path component only, NFC, no
    control or format characters (bidirectional overrides that disguise `exe.pdf`), none of
    `<>:"|?*`, no leading dot or trailing dot or space, a Windows device name defused, at most
    FILENAME_MAX_CHARS characters (the extension kept). May be empty: the caller refuses that."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" or ch in _KEEP_FORMAT or ch in " \t"
    )  # Cc, Cf, Cs, Co, Cn
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _EXTENSION_MAX or " " in extension:
        stem, extension = name, ""
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = f".{extension}" if extension else ""
    while stem and (len(stem) + len(suffix) > FILENAME_MAX_CHARS or len((stem + suffix).encode()) > FILENAME_MAX_BYTES):
        stem = stem[:-1]
    stem = stem.rstrip(" .")
    return f"{stem}{suffix}" if stem else ""


# --- PDF ------------------------------------------------------------------------------------------------

# Names that make a PDF more than a document to read, compared after `#xx` escapes are decoded
# (`/J#61vaScript` is `/JavaScript`). The long ones are looked for anywhere in the file (compressed or
# binary content does not form them by chance); `/JS` only in dictionaries. A JavaScript action always
# names its type `/JavaScript`, so `/JS` is a second net, not the only one.
_ENCRYPTED = {b"Encrypt"}
_ACTIVE = {b"JavaScript", b"Launch", b"SubmitForm", b"ImportData", b"XFA", b"RichMedia"}
_EMBEDDED = {b"EmbeddedFile", b"EmbeddedFiles", b"FileAttachment"}
_SHORT_ACTIVE = {b"JS"}
_OTHER_FILTERS = {
    b"ASCIIHexDecode",
    b"ASCII85Decode",
    b"LZWDecode",
    b"RunLengthDecode",
    b"CCITTFaxDecode",
    b"JBIG2Decode",
    b"DCTDecode",
    b"JPXDecode",
    b"Crypt",
}
_NAME = re.compile(rb"/([^\s()<>\[\]{}/%]*)")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM_AFTER_DICTIONARY = re.compile(rb">>\s*stream(?:\r\n|\n|\r)")
_STREAM_KEYWORD = re.compile(rb"stream(?:\r\n|\n|\r)")
_INFLATE_BUDGET = 64 * 1024 * 1024  # bytes inflated from object streams, in all (a bomb stops here)


def _decode_name(raw: bytes) -> bytes:
    return _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _names(text: bytes) -> set[bytes]:
    return {_decode_name(n) for n in _NAME.findall(text)}


def _outside_streams(data: bytes) -> list[bytes]:
    """The text of the file between streams: the dictionaries of its top-level objects."""
    outside: list[bytes] = []
    position = 0
    while (match := _STREAM_AFTER_DICTIONARY.search(data, position)) is not None:
        end = data.find(b"endstream", match.end())
        if end < 0:
            raise refuse("pdf_malformed")
        outside.append(data[position : match.end()])
        position = end + len(b"endstream")
    outside.append(data[position:])
    return outside


def _object_streams(data: bytes) -> list[bytes]:
    """The compressed content of every object stream (PDF 1.5): each `/Type /ObjStm`, however its names
    are escaped, and the stream that follows it. Object streams hold dictionaries, compressed."""
    tokens = [(m.start(), m.end(), _decode_name(m.group(1))) for m in _NAME.finditer(data)]
    found: list[bytes] = []
    for (start, end, name), (next_start, _, next_name) in itertools.pairwise(tokens):
        if name != b"Type" or next_name != b"ObjStm" or data[end:next_start].strip():
            continue
        stream = _STREAM_KEYWORD.search(data, next_start)
        stream_end = data.find(b"endstream", stream.end()) if stream is not None else -1
        if stream is None or stream_end < 0:
            raise refuse("pdf_malformed")
        dictionary = _names(data[max(0, data.rfind(b"obj", 0, start)) : stream.start()])
        if b"FlateDecode" not in dictionary or dictionary & _OTHER_FILTERS:
            raise refuse("pdf_malformed", "a part of the PDF is compressed in a way PHB cannot check")
        found.append(data[stream.end() : stream_end])
    return found


def check_pdf(data: bytes) -> None:
    """Refuse a PDF that is truncated (no `%%EOF` at its end), encrypted, scripted or carrying files.

    The check reads every name of the file and of its object streams (inflated), and `/JS` in its
    dictionaries; it is a filter, not a proof: a download is always an attachment served with
    `nosniff`, never rendered by PHB."""
    if b"%%EOF" not in data[-2048:]:
        raise refuse("pdf_malformed", "the PDF is truncated or damaged (it does not end with %%EOF)")
    names = _names(data)
    short: set[bytes] = set()
    for part in _outside_streams(data):
        short |= _names(part)
    budget = _INFLATE_BUDGET
    for compressed in _object_streams(data):
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(compressed, budget)
        except zlib.error as exc:
            raise refuse("pdf_malformed", "a compressed part of the PDF is damaged") from exc
        if inflater.unconsumed_tail:
            raise refuse("pdf_malformed", "the PDF's compressed parts are too large to check")
        budget -= len(text)
        inner = _names(text)
        names |= inner
        short |= inner
    if names & _ENCRYPTED:
        raise refuse("pdf_encrypted", "the PDF is encrypted or password-protected: keep a copy without protection")
    if names & _ACTIVE or short & _SHORT_ACTIVE:
        raise refuse("pdf_active_content")
    if names & _EMBEDDED:
        raise refuse("pdf_embedded_file")


# --- images ---------------------------------------------------------------------------------------------


def check_image(data: bytes, file_type: FileType) -> None:
    """The image opens as `file_type` with Pillow, passes its structural check and decodes (a JPEG at
    a reduced scale, which reads every compressed block without building the full bitmap). More
    pixels than Pillow's decompression-bomb limit is a refusal, not a warning."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged metadata (EXIF) is common and harmless
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != file_type.pillow_format:
                    raise refuse("image_unreadable")
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                if file_type is JPEG:
                    image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,  # Pillow's parsers raise it for some malformed headers
        EOFError,
    ) as exc:
        raise refuse("image_unreadable") from exc
