"""Files for the documents tests, made here: small valid PDFs (with and without scripts, attachments,
encryption, object streams), PNG, JPEG and TIFF images from Pillow, and things that are none of them."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest

SECRET = b"Patient Adaeze Okonkwo: HIV viral load undetectable"


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def pdf(*, text: bytes = SECRET, catalog: bytes = b"", trailer: bytes = b"", extra: tuple[bytes, ...] = ()) -> bytes:
    """A one-page PDF 1.7 with a correct cross-reference table. `extra` objects are numbered from 6."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        _stream(b"BT /F1 10 Tf 20 100 Td (" + text + b") Tj ET"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *extra,
    ]
    out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer + b">>\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


def pdf_with_javascript() -> bytes:
    return pdf(catalog=b"/OpenAction 6 0 R", extra=(b"<< /S /JavaScript /JS (app.alert('hello')) >>",))


def pdf_with_escaped_javascript() -> bytes:
    # `/J#61vaScript` is the name `/JavaScript` written with a hex escape.
    return pdf(catalog=b"/OpenAction 6 0 R", extra=(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",))


def pdf_with_javascript_in_an_object_stream() -> bytes:
    hidden = b"7 0 << /S /JavaScript /JS (app.alert(1)) >>"
    compressed = zlib.compress(hidden)
    return pdf(
        catalog=b"/OpenAction 7 0 R",
        extra=(_stream(compressed, b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode "),),
    )


def pdf_with_javascript_in_an_escaped_object_stream() -> bytes:
    compressed = zlib.compress(b"7 0 << /S /JavaScript /JS (app.alert(1)) >>")
    return pdf(
        catalog=b"/OpenAction 7 0 R",
        extra=(_stream(compressed, b"/T#79pe /Obj#53tm /N 1 /First 4 /Filter /Fl#61teDecode "),),
    )


def pdf_with_an_object_stream_under_another_filter() -> bytes:
    hidden = zlib.compress(b"7 0 << /S /JavaScript /JS (app.alert(1)) >>").hex().encode() + b">"
    return pdf(extra=(_stream(hidden, b"/Type /ObjStm /N 1 /First 4 /Filter [/ASCIIHexDecode /FlateDecode] "),))


def pdf_with_a_fake_stream_keyword_before_its_script() -> bytes:
    # A string that looks like the start of a stream, to make a naive scanner skip what follows.
    return pdf(catalog=b"/Lang (x>> stream\n) /OpenAction << /S /JavaScript /JS (app.alert(1)) >>")


def pdf_with_a_bare_js_entry() -> bytes:
    return pdf(catalog=b"/OpenAction 6 0 R", extra=(b"<< /JS (app.alert(1)) >>",))


def pdf_with_a_harmless_object_stream() -> bytes:
    compressed = zlib.compress(b"7 0 << /Type /Annot /Subtype /Link /Rect [0 0 10 10] >>")
    return pdf(extra=(_stream(compressed, b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode "),))


def pdf_with_launch_action() -> bytes:
    return pdf(catalog=b"/OpenAction 6 0 R", extra=(b"<< /S /Launch /F (cmd.exe) >>",))


def pdf_with_embedded_file() -> bytes:
    return pdf(
        catalog=b"/Names << /EmbeddedFiles << /Names [(a.exe) 6 0 R] >> >>",
        extra=(b"<< /Type /Filespec /F (a.exe) /EF << /F 7 0 R >> >>", _stream(b"MZ", b"/Type /EmbeddedFile ")),
    )


def pdf_encrypted() -> bytes:
    return pdf(
        trailer=b"/Encrypt 6 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]",
        extra=(b"<< /Filter /Standard /V 2 /R 3 /Length 128 /P -1340 /O <00> /U <00> >>",),
    )


def pdf_from_weasyprint() -> bytes:
    """A PDF as a real producer writes it (compressed streams, fonts)."""
    from weasyprint import HTML

    return HTML(string="<h1>Discharge summary</h1><p>Seen and treated.</p>").write_pdf()


def _image(fmt: str, **options) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, fmt, **options)
    return out.getvalue()


def png() -> bytes:
    return _image("PNG")


def jpeg() -> bytes:
    return _image("JPEG", quality=90)


def tiff() -> bytes:
    return _image("TIFF", compression="tiff_deflate")


EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode."
)
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/me/')</script></body></html>"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40


@pytest.fixture
def store(settings, tmp_path) -> Path:
    """The documents storage in a directory of this test's own."""
    location = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "clinical_documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


def stored_files(location: Path) -> list[Path]:
    return [p for p in location.rglob("*") if p.is_file()] if location.exists() else []
