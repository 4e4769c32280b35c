"""Staff pages of a patient's documents: the panel a chart includes (`clinical/_documents.html`: the list
and the upload form; `panel_context` gives what it needs), the same panel as a page of its own, the
upload, the download and marking a document entered in error.

Like every page of the medical record they need a clinical role and the step-up window. Views parse,
call one service or selector and render; an HTMX request gets the panel back. Uploads are read into
memory, bounded, like the API's (document_api.BoundedMemoryUpload)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from phb.accounts.step_up import med_access_required
from phb.clinical import documents, policies
from phb.clinical.document_api import bound_upload, download_response, refuse_if_too_large
from phb.clinical.models import DocumentCategory
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.models import Organization
from phb.patients.public import staff_page

VIEW = "clinical.record.view"
PANEL = "clinical/_documents.html"
PAGE = "clinical/documents.html"


class DocumentUploadForm(forms.Form):
    file = forms.FileField(label="File", allow_empty_file=True, help_text="PDF, PNG, JPEG or TIFF")
    category = forms.ChoiceField(choices=DocumentCategory.choices)
    title = forms.CharField(max_length=documents.TITLE_MAX_CHARS)
    description = forms.CharField(
        required=False, max_length=documents.DESCRIPTION_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 2})
    )


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(max_length=documents.REASON_MAX_CHARS)


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _show_problem(form: forms.Form, exc: ProblemError) -> None:
    errors = exc.extra.get("errors") or []
    for error in errors:
        name = error.get("field", "")
        name = "file" if name == "filename" else name
        form.add_error(name if name in form.fields else None, error.get("message") or exc.detail)
    if not errors:
        form.add_error(None, exc.detail)


def panel_context(
    ctx: Ctx, patient_id: uuid.UUID, *, form: forms.Form | None = None, notice: str = ""
) -> dict[str, Any]:
    """What `clinical/_documents.html` needs for a patient (the list is an audited read)."""
    form = form or DocumentUploadForm()
    form.fields["file"].help_text = f"PDF, PNG, JPEG or TIFF, at most {documents.max_bytes() // 2**20} MB"
    return {
        "patient_id": patient_id,
        "documents": documents.document_list(ctx=ctx, patient_id=patient_id),
        "form": form,
        "can_upload": policies.can_update(ctx),
        "notice": notice,
        "zone": Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).first() or "UTC",
    }


def _panel(request: HttpRequest, patient_id: uuid.UUID, *, status: int = 200, **kwargs: Any) -> HttpResponse:
    template = PANEL if request.htmx else PAGE  # type: ignore[attr-defined]
    return render(request, template, panel_context(_ctx(request), patient_id, **kwargs), status=status)


@staff_page(VIEW)
@med_access_required
def documents_page(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """A patient's documents and the upload form (the panel alone for HTMX)."""
    return _panel(request, patient_id)


@csrf_protect
@staff_page(VIEW)
@med_access_required
def _upload(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = DocumentUploadForm(request.POST, request.FILES)
    try:
        refuse_if_too_large(request)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            documents.document_store(
                ctx=_ctx(request),
                patient_id=patient_id,
                data=upload.read(),
                declared_type=upload.content_type or "",
                filename=upload.name or "",
                category=form.cleaned_data["category"],
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
            )
            if not request.htmx:  # type: ignore[attr-defined]
                return redirect(reverse("clinical_documents:page", args=[patient_id]))
            return _panel(request, patient_id, notice="The document was added.")
    except ProblemError as exc:
        if exc.status != 400:
            raise
        _show_problem(form, exc)
    # An HTMX request gets its form errors with a 200: htmx swaps only successful responses.
    return _panel(request, patient_id, form=form, status=200 if request.htmx else 400)  # type: ignore[attr-defined]


@csrf_exempt  # checked by `_upload`, once the upload is read into memory rather than a temporary file
@require_POST
def document_upload(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    bound_upload(request)
    return _upload(request, patient_id)


@staff_page(VIEW)
@med_access_required
def document_download(request: HttpRequest, document_id: uuid.UUID) -> HttpResponse:
    """The document as an attachment, streamed (audited)."""
    try:
        return download_response(documents.document_open(ctx=_ctx(request), document_id=document_id))
    except documents.DocumentUnavailable as exc:
        return render(request, "patients/staff/problem.html", {"problem": exc}, status=exc.status)


@require_POST
@staff_page(VIEW)
@med_access_required
def document_entered_in_error(request: HttpRequest, patient_id: uuid.UUID, document_id: uuid.UUID) -> HttpResponse:
    form = EnteredInErrorForm(request.POST)
    notice = "Say why the document is entered in error."
    if form.is_valid():
        try:
            documents.document_mark_entered_in_error(
                ctx=_ctx(request), document_id=document_id, patient_id=patient_id, reason=form.cleaned_data["reason"]
            )
            notice = "The document is marked entered in error."
        except ProblemError as exc:
            if exc.status not in (400, 409):
                raise
            notice = exc.detail
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect(reverse("clinical_documents:page", args=[patient_id]))
    return _panel(request, patient_id, notice=notice)
