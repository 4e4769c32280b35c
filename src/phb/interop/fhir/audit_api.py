"""The privacy officer's audit search as a FHIR searchset Bundle of AuditEvent resources."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from phb.interop.fhir.audit_event import to_fhir
from phb.kernel import audit
from phb.kernel.api import PhbApiView
from phb.kernel.audit_api import AuditQuery, audit_search

MAX_EXPORT = 10_000


class AuditEventFhirExportApi(PhbApiView):
    required_permission = "audit.event.view"

    @extend_schema(parameters=[AuditQuery], responses={200: dict}, summary="Audit search as FHIR AuditEvent (Bundle)")
    def get(self, request: Request) -> Response:
        query = AuditQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = list(audit_search(self.ctx, query.validated_data)[:MAX_EXPORT])
        audit.record(self.ctx, "audit.event.export", patient_id=query.validated_data.get("patient"), export="fhir")
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(events),
            "entry": [{"resource": to_fhir(e)} for e in events],
        }
        return Response(bundle, content_type="application/fhir+json")
