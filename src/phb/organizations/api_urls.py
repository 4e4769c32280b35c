from django.urls import path

from phb.organizations import api

urlpatterns = [
    path("organizations/", api.OrganizationListApi.as_view(), name="organization-list"),
    path(
        "organizations/<str:organization_id>/",
        api.OrganizationDetailApi.as_view(),
        name="organization-detail",
    ),
    path(
        "organizations/<str:organization_id>/opening-hours/",
        api.OpeningHoursApi.as_view(),
        name="organization-opening-hours",
    ),
    path("organizations/<str:organization_id>/holidays/", api.HolidayListApi.as_view(), name="organization-holidays"),
    path(
        "organizations/<str:organization_id>/holidays/<str:holiday_id>/",
        api.HolidayApi.as_view(),
        name="organization-holiday",
    ),
]
