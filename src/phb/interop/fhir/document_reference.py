"""DocumentReference (FHIR R4) from a PHB clinical document: what it is (a LOINC document type where
PHB's category has one, and the category), when, by whom, and its content's description. The content
itself is never embedded: the attachment's URL (relative to the server's root) is PHB's authenticated download of the document (the
REST API's, which checks the same care relationship and audits the download), naming only its id.

FHIR R4's `Attachment.hash` is a SHA-1; PHB keeps the SHA-256 of the content, given in an extension."""

from __future__ import annotations

import uuid
from typing import Any

from phb.interop.fhir.common import LOINC, coding, instant, meta, ref

CATEGORY_SYSTEM = "https://phb.health/fhir/CodeSystem/document-category"
SHA256_EXTENSION = "https://phb.health/fhir/StructureDefinition/attachment-sha256"


def content_url(document_id: Any) -> str:
    """The authenticated download of the document's content, relative to the server's root."""
    return f"/api/v1/documents/{document_id}/content/"


def to_fhir(
    document: Any,
    *,
    loinc: dict[str, str],
    category_display: str,
    author_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """`loinc` maps PHB's categories to LOINC document types; `author_id` is the uploader's
    Practitioner id (when they have a practitioner's profile here; a patient's upload names the patient)."""
    code = loinc.get(document.category)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": str(document.id),
        "meta": meta(document.updated_at),
        "status": document.status,
        "type": {"coding": [coding(LOINC, code)]} if code else {"text": category_display},
        "category": [{"coding": [coding(CATEGORY_SYSTEM, document.category, category_display)]}],
        "subject": ref("Patient", document.patient_id),
        "date": instant(document.created_at),
        "content": [
            {
                "attachment": {
                    "contentType": document.content_type,
                    "url": content_url(document.id),
                    "size": document.size,
                    "title": document.title,
                    "creation": instant(document.created_at),
                    "extension": [{"url": SHA256_EXTENSION, "valueString": document.sha256}],
                }
            }
        ],
    }
    if document.source == "patient":
        resource["author"] = [ref("Patient", document.patient_id)]
    elif author_id:
        resource["author"] = [ref("Practitioner", author_id)]
    if document.description:
        resource["description"] = document.description
    if document.encounter_id:
        resource["context"] = {"encounter": [ref("Encounter", document.encounter_id)]}
    return resource
