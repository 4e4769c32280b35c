from django.urls import path

from phb.workforce import api

urlpatterns = [
    path("practitioners/", api.PractitionerListApi.as_view(), name="practitioners"),
    path("practitioners/<str:practitioner_id>/", api.PractitionerApi.as_view(), name="practitioner"),
    path(
        "practitioners/<str:practitioner_id>/deactivate/",
        api.PractitionerActivationApi.as_view(active=False),
        name="practitioner-deactivate",
    ),
    path(
        "practitioners/<str:practitioner_id>/reactivate/",
        api.PractitionerActivationApi.as_view(active=True),
        name="practitioner-reactivate",
    ),
    path(
        "practitioners/<str:practitioner_id>/availability/",
        api.AvailabilityListApi.as_view(),
        name="practitioner-availability",
    ),
    path(
        "practitioners/<str:practitioner_id>/availability/<str:window_id>/",
        api.AvailabilityApi.as_view(),
        name="practitioner-availability-window",
    ),
    path("practitioners/<str:practitioner_id>/leave/", api.LeaveListApi.as_view(), name="practitioner-leave"),
    path(
        "practitioners/<str:practitioner_id>/leave/<str:leave_id>/",
        api.LeaveApi.as_view(),
        name="practitioner-leave-item",
    ),
    path("practitioners/<str:practitioner_id>/closures/", api.ClosureListApi.as_view(), name="practitioner-closures"),
    path(
        "practitioners/<str:practitioner_id>/closures/<str:closure_id>/",
        api.ClosureApi.as_view(),
        name="practitioner-closure",
    ),
]
