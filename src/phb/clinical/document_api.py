"""The documents API: upload a file to a patient's record (multipart), list a patient's documents, read
one's metadata, download its content (streamed, decrypted on the fly), mark one entered in error.

Like the rest of the clinical API, every endpoint opens the medical record and needs the step-up window.
An upload is held in memory, never in a temporary file in plaintext, and refused as soon as it passes
the size limit. A download is always an attachment (`nosniff`, `no-store`, a sandboxing CSP) under the
sanitised original name; the storage key or URL never leaves the server."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from phb.clinical import document_checks, documents
from phb.clinical.api import ClinicalApi
from phb.clinical.models import ClinicalDocument, DocumentCategory
from phb.kernel.ids import parse_uuid

VIEW = "clinical.record.view"
MULTIPART_OVERHEAD = 64 * 1024  # the other fields and the multipart framing, generously


# --- uploads held in memory, bounded ----------------------------------------------------------------------


class BoundedMemoryUpload(FileUploadHandler):
    """Keeps an uploaded file in memory up to the documents' size limit, and stops reading the request
    past it (the view then answers `too_large`). SECURITY: Django's default handlers would write a
    large upload to a temporary file, health data in plaintext on disk."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.buffer.tell() + len(raw_data) > documents.max_bytes():
            self.request.phb_upload_too_large = True  # type: ignore[union-attr]
            raise StopUpload(connection_reset=True)
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


def bound_upload(request: HttpRequest) -> None:
    """Before the body is read: keep what is read of it in memory, up to the limit."""
    request.upload_handlers = [BoundedMemoryUpload(request)]


def refuse_if_too_large(request: HttpRequest) -> None:
    """Refuse an upload announcing more than the limit (before its body is read), or cut short while
    it was read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if getattr(request, "phb_upload_too_large", False) or length > documents.max_bytes() + MULTIPART_OVERHEAD:
        raise document_checks.refuse("too_large", f"the file is larger than {documents.max_bytes() // 2**20} MB")


# --- serializers ------------------------------------------------------------------------------------------


class DocumentOutput(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ClinicalDocument
        fields = [
            "id",
            "patient_id",
            "encounter_id",
            "category",
            "title",
            "description",
            "filename",
            "content_type",
            "size",
            "sha256",
            "source",
            "uploaded_by_id",
            "status",
            "entered_in_error_at",
            "entered_in_error_by_id",
            "entered_in_error_reason",
            "created_at",
            "download_url",
        ]

    def get_download_url(self, document: ClinicalDocument) -> str:
        """This API's download endpoint (never the storage's own URL)."""
        return f"/api/v1/documents/{document.id}/content/"


class DocumentUploadInput(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # refused by the service, with its own code
        help_text="PDF, PNG, JPEG or TIFF. Its declared content type and its name's extension must match the content.",
    )
    category = serializers.ChoiceField(choices=DocumentCategory.choices)
    title = serializers.CharField(max_length=documents.TITLE_MAX_CHARS)
    description = serializers.CharField(required=False, allow_blank=True, max_length=documents.DESCRIPTION_MAX_CHARS)
    encounter_id = serializers.UUIDField(required=False, allow_null=True)


class EnteredInErrorInput(serializers.Serializer):
    reason = serializers.CharField(max_length=documents.REASON_MAX_CHARS)


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- views ----------------------------------------------------------------------------------------------

UPLOAD_DESCRIPTION = (
    "Multipart form. The type is detected from the content (magic bytes) and must agree with the declared "
    "content type and the file name's extension. Refusals are 400 `VALIDATION_ERROR` with one error whose "
    "code says why: " + ", ".join(f"`{code}` ({meaning})" for code, meaning in document_checks.REFUSALS.items()) + "."
)


class PatientDocumentsApi(ClinicalApi):
    required_permission = {"GET": VIEW, "POST": VIEW}
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            bound_upload(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("encounter_id", str, description="Only this encounter's documents."),
            OpenApiParameter(
                "include_entered_in_error", bool, description="Also those entered in error (default: current only)."
            ),
        ],
        responses=DocumentOutput(many=True),
        summary="A patient's documents, newest first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        raw = request.query_params.get("encounter_id")
        encounter_id = parse_uuid(raw) if raw else None
        if raw and encounter_id is None:
            return Response(DocumentOutput([], many=True).data)
        found = documents.document_list(
            ctx=self.ctx,
            patient_id=self.parse_id(patient_id),
            encounter_id=encounter_id,
            include_entered_in_error=request.query_params.get("include_entered_in_error", "") in ("1", "true"),
        )
        return Response(DocumentOutput(found, many=True).data)

    @extend_schema(
        request={"multipart/form-data": DocumentUploadInput},
        responses={201: DocumentOutput},
        summary="Upload a document to a patient's record",
        description=UPLOAD_DESCRIPTION,
    )
    def post(self, request: Request, patient_id: str) -> Response:
        refuse_if_too_large(request._request)  # announced too large: refused before the body is read
        data = request.data  # parsed into memory, bounded
        refuse_if_too_large(request._request)
        fields = _valid(DocumentUploadInput, data)
        upload = fields.pop("file")
        document = documents.document_store(
            ctx=self.ctx,
            patient_id=self.parse_id(patient_id),
            data=upload.read(),
            declared_type=upload.content_type or "",
            filename=upload.name or "",
            **fields,
        )
        return Response(DocumentOutput(document).data, status=status.HTTP_201_CREATED)


class DocumentApi(ClinicalApi):
    @extend_schema(responses=DocumentOutput, summary="One document's metadata (audited)")
    def get(self, request: Request, document_id: str) -> Response:
        return Response(
            DocumentOutput(documents.document_get(ctx=self.ctx, document_id=self.parse_id(document_id))).data
        )


class _AnyAccept(DefaultContentNegotiation):
    """The download answers with the document's own type, whatever the client accepts; errors are JSON."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


def download_response(content: documents.DocumentContent) -> StreamingHttpResponse:
    """The streamed attachment of an opened document, with the headers that keep a browser from
    rendering, sniffing or caching it."""
    document = content.document
    response = StreamingHttpResponse(content, content_type=document.content_type)
    response["Content-Length"] = str(document.size)
    response["Content-Disposition"] = content_disposition_header(True, document.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class DocumentContentApi(ClinicalApi):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        responses={
            (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The document, as an attachment")
            for content_type in document_checks.BY_CONTENT_TYPE
        },
        summary="Download a document (streamed; every download audited)",
        description="503 `DOCUMENT_UNAVAILABLE` when the storage cannot give it back.",
    )
    def get(self, request: Request, document_id: str) -> StreamingHttpResponse:
        return download_response(documents.document_open(ctx=self.ctx, document_id=self.parse_id(document_id)))


class DocumentEnteredInErrorApi(ClinicalApi):
    @extend_schema(
        request=EnteredInErrorInput,
        responses=DocumentOutput,
        summary="Mark a document entered in error (409 DOCUMENT_ENTERED_IN_ERROR if it already is)",
    )
    def post(self, request: Request, document_id: str) -> Response:
        data = _valid(EnteredInErrorInput, request.data)
        document = documents.document_mark_entered_in_error(
            ctx=self.ctx, document_id=self.parse_id(document_id), **data
        )
        return Response(DocumentOutput(documents.document_get(ctx=self.ctx, document_id=document.id)).data)
