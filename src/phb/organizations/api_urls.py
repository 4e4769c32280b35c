from django.urls import path

from phb.organizations import api

urlpatterns = [
    path("organizations/", api.OrganizationListApi.as_view(), name="organization-list"),
    path(
        "organizations/<str:organization_id>/",
        api.OrganizationDetailApi.as_view(),
        name="organization-detail",
    ),
]
