from django.urls import path

from phb.workforce import views

app_name = "workforce_staff"
urlpatterns = [
    path("practitioners/", views.practitioner_list, name="practitioners"),
    path("practitioners/<uuid:practitioner_id>/", views.practitioner_edit, name="practitioner"),
    path(
        "practitioners/<uuid:practitioner_id>/activation/",
        views.practitioner_activation,
        name="practitioner-activation",
    ),
    path("my-schedule/", views.my_schedule, name="my-schedule"),
    path("practitioners/<uuid:practitioner_id>/schedule/", views.schedule, name="schedule"),
    path("practitioners/<uuid:practitioner_id>/windows/", views.window_add, name="window-add"),
    path("practitioners/<uuid:practitioner_id>/windows/<uuid:window_id>/", views.window_edit, name="window"),
    path(
        "practitioners/<uuid:practitioner_id>/windows/<uuid:window_id>/remove/",
        views.window_remove,
        name="window-remove",
    ),
    path("practitioners/<uuid:practitioner_id>/leave/", views.leave_add, name="leave-add"),
    path("practitioners/<uuid:practitioner_id>/leave/<uuid:leave_id>/remove/", views.leave_remove, name="leave-remove"),
    path("practitioners/<uuid:practitioner_id>/closures/", views.closure_add, name="closure-add"),
    path(
        "practitioners/<uuid:practitioner_id>/closures/<uuid:closure_id>/remove/",
        views.closure_remove,
        name="closure-remove",
    ),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/opening-hours/", views.opening_hours_save, name="opening-hours"),
    path("calendar/holidays/", views.holiday_add, name="holiday-add"),
    path("calendar/holidays/<uuid:holiday_id>/remove/", views.holiday_remove, name="holiday-remove"),
]
