from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from phb.interop.fhir.audit_api import AuditEventFhirExportApi
from phb.kernel import audit_api, health

api_v1 = [
    path("", include("phb.accounts.api_urls")),
    path("", include("phb.organizations.api_urls")),
    path("", include("phb.patients.api_urls")),
    path("", include("phb.workforce.api_urls")),
    path("", include("phb.scheduling.api_urls")),
    path("", include("phb.clinical.api_urls")),
    path("", include("phb.medications.api_urls")),
    path("", include("phb.pharmacy.api_urls")),
    path("", include("phb.notifications.api_urls")),
    path("", include("phb.terminology.api_urls")),
    path("audit/events/", audit_api.AuditEventListApi.as_view(), name="audit-events"),
    path("audit/events/fhir/", AuditEventFhirExportApi.as_view(), name="audit-events-fhir"),
]

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("phb.accounts.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("patient/appointments/", include("phb.scheduling.portal_urls")),
    path("patient/medications/", include("phb.medications.portal_urls")),
    path("patient/", include("phb.clinical.portal_urls")),
    path("patient/", include("phb.patients.urls")),
    path("staff/patients/", include("phb.patients.staff_urls")),
    path("staff/scheduling/", include("phb.scheduling.staff_urls")),
    path("staff/terminology/", include("phb.terminology.staff_urls")),
    path("staff/workforce/", include("phb.workforce.staff_urls")),
    path("staff/clinical/", include("phb.clinical.staff_urls")),
    path("staff/medications/", include("phb.medications.staff_urls")),
    path("staff/pharmacy/", include("phb.pharmacy.staff_urls")),
    path("kiosk/", include("phb.scheduling.kiosk_urls")),
    path("staff/clinical/documents/", include("phb.clinical.document_urls")),
    path("", include("phb.web.urls")),
]

# FHIR R4 API (interop/fhir) and the OAuth2 token endpoint its system clients use.
from phb.accounts import client_views  # noqa: E402

urlpatterns.insert(0, path("fhir/r4/", include("phb.interop.fhir.urls")))
urlpatterns.insert(0, path("oauth/token", client_views.token, name="oauth-token"))
