"""What a document may be: the type detected from magic bytes agreeing with the declared type and the
extension, PDFs without encryption, scripts or attachments, images that decode, safe file names."""

import pytest

from phb.clinical import document_checks
from phb.clinical.document_checks import check, safe_filename
from phb.kernel.errors import ValidationFailed
from tests.clinical import document_samples as samples

MB = 1024 * 1024


def refusal(data, *, declared_type, filename, max_bytes=20 * MB):
    with pytest.raises(ValidationFailed) as caught:
        check(data, declared_type=declared_type, filename=filename, max_bytes=max_bytes)
    (error,) = caught.value.extra["errors"]
    assert error["field"] == "file"
    assert error["code"] in document_checks.REFUSALS
    return error["code"]


@pytest.mark.parametrize(
    ("make", "declared_type", "filename", "detected"),
    [
        (samples.pdf, "application/pdf", "letter.pdf", "application/pdf"),
        (samples.pdf, "application/pdf; charset=binary", "LETTER.PDF", "application/pdf"),
        (samples.pdf_with_a_harmless_object_stream, "application/pdf", "a.pdf", "application/pdf"),
        (samples.png, "image/png", "wound.png", "image/png"),
        (samples.jpeg, "image/jpeg", "wound.jpg", "image/jpeg"),
        (samples.jpeg, "image/jpg", "wound.jpeg", "image/jpeg"),
        (samples.tiff, "image/tiff", "scan.tif", "image/tiff"),
    ],
)
def test_accepted_types(make, declared_type, filename, detected):
    assert check(make(), declared_type=declared_type, filename=filename, max_bytes=20 * MB).content_type == detected


def test_a_pdf_as_a_real_producer_writes_it_is_accepted():
    data = samples.pdf_from_weasyprint()
    assert check(data, declared_type="application/pdf", filename="summary.pdf", max_bytes=20 * MB).content_type == (
        "application/pdf"
    )


@pytest.mark.parametrize(
    ("data", "declared_type", "filename"),
    [
        (samples.EXE, "application/pdf", "report.pdf"),
        (samples.HTML, "application/pdf", "report.pdf"),
        (samples.HTML, "text/html", "page.html"),
        (samples.ZIP, "application/pdf", "report.pdf"),
        (b"just some text", "application/pdf", "report.pdf"),
        (b"%PDF", "application/pdf", "report.pdf"),  # too short to be one
    ],
)
def test_anything_else_is_refused_whatever_its_name(data, declared_type, filename):
    assert refusal(data, declared_type=declared_type, filename=filename) == "unsupported_type"


@pytest.mark.parametrize(
    ("make", "declared_type", "filename", "code"),
    [
        (samples.pdf, "image/png", "letter.pdf", "content_type_mismatch"),
        (samples.pdf, "application/octet-stream", "letter.pdf", "content_type_mismatch"),
        (samples.pdf, "", "letter.pdf", "content_type_mismatch"),
        (samples.png, "image/jpeg", "photo.png", "content_type_mismatch"),
        (samples.jpeg, "image/jpeg", "photo.png", "extension_mismatch"),
        (samples.pdf, "application/pdf", "letter", "extension_mismatch"),
        (samples.pdf, "application/pdf", "letter.pdf.exe", "extension_mismatch"),
        (samples.png, "image/png", "photo.svg", "extension_mismatch"),
    ],
)
def test_the_declared_type_and_the_extension_must_agree_with_the_content(make, declared_type, filename, code):
    assert refusal(make(), declared_type=declared_type, filename=filename) == code


def test_empty_and_too_large():
    assert refusal(b"", declared_type="application/pdf", filename="a.pdf") == "empty_file"
    data = samples.pdf()
    assert refusal(data, declared_type="application/pdf", filename="a.pdf", max_bytes=len(data) - 1) == "too_large"
    assert check(data, declared_type="application/pdf", filename="a.pdf", max_bytes=len(data))


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (samples.pdf_with_javascript, "pdf_active_content"),
        (samples.pdf_with_escaped_javascript, "pdf_active_content"),
        (samples.pdf_with_javascript_in_an_object_stream, "pdf_active_content"),
        (samples.pdf_with_javascript_in_an_escaped_object_stream, "pdf_active_content"),
        (samples.pdf_with_a_fake_stream_keyword_before_its_script, "pdf_active_content"),
        (samples.pdf_with_a_bare_js_entry, "pdf_active_content"),
        (samples.pdf_with_an_object_stream_under_another_filter, "pdf_malformed"),
        (samples.pdf_with_launch_action, "pdf_active_content"),
        (samples.pdf_with_embedded_file, "pdf_embedded_file"),
        (samples.pdf_encrypted, "pdf_encrypted"),
        (lambda: samples.pdf()[:-200], "pdf_malformed"),  # truncated: no %%EOF
        (lambda: samples.pdf().replace(b"endstream", b"endstrean"), "pdf_malformed"),
    ],
)
def test_pdfs_that_are_more_than_a_document_are_refused(make, code):
    assert refusal(make(), declared_type="application/pdf", filename="letter.pdf") == code


def test_a_damaged_object_stream_is_refused_rather_than_left_unchecked():
    data = samples.pdf_with_javascript_in_an_object_stream()
    start = data.index(b"stream\n", data.index(b"/ObjStm")) + len(b"stream\n")
    damaged = data[:start] + b"\x00\x01\x02\x03" + data[start + 4 :]
    assert refusal(damaged, declared_type="application/pdf", filename="a.pdf") == "pdf_malformed"


@pytest.mark.parametrize(
    ("make", "declared_type", "filename"),
    [
        (samples.png, "image/png", "a.png"),
        (samples.jpeg, "image/jpeg", "a.jpg"),
        (samples.tiff, "image/tiff", "a.tiff"),
    ],
)
def test_a_truncated_or_damaged_image_is_refused(make, declared_type, filename):
    data = make()
    assert refusal(data[: len(data) // 2], declared_type=declared_type, filename=filename) == "image_unreadable"
    damaged = data[:20] + bytes(len(data) - 20)
    assert refusal(damaged, declared_type=declared_type, filename=filename) == "image_unreadable"


def test_an_image_with_too_many_pixels_is_refused(monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the sample has 64 x 48 = 3072
    assert refusal(samples.png(), declared_type="image/png", filename="a.png") == "image_unreadable"


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\ada\\Desktop\\referral.pdf", "referral.pdf"),
        ("..", ""),
        ("/", ""),
        (".hidden.pdf", "hidden.pdf"),
        ("letter.pdf. . ", "letter.pdf"),
        ("re\x00port\r\n.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # the right-to-left override that shows "exe.pdf"
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("  many   spaces\there .pdf", "many spaces here.pdf"),
        ("Résumé Ọláolúwa 診療情報.pdf", "Résumé Ọláolúwa 診療情報.pdf"),
        ("Re\u0301sume\u0301.pdf", "Résumé.pdf"),  # NFC
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.pdf",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.pdf",
        ),  # a zero-width non-joiner is part of the word
        ("CON.pdf", "_CON.pdf"),
        ("nul", "_nul"),
        ("archive.tar.gz", "archive.tar.gz"),
    ],
)
def test_safe_filename(given, safe):
    assert safe_filename(given) == safe


def test_a_very_long_name_keeps_its_extension_and_fits_file_systems():
    name = safe_filename("x" * 500 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name) == document_checks.FILENAME_MAX_CHARS
    wide = safe_filename("診" * 200 + ".pdf")
    assert wide.endswith(".pdf")
    assert len(wide.encode()) <= document_checks.FILENAME_MAX_BYTES
    assert safe_filename("a." + "b" * 40) == "a." + "b" * 40  # not an extension: kept as part of the name
