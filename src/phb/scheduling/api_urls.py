from django.urls import path

from phb.scheduling import api

TRANSITIONS = ("confirm", "accept", "check-in", "start", "complete", "cancel", "reject", "no-show")

urlpatterns = [
    path("me/appointments/", api.MyAppointmentsApi.as_view(), name="my-appointments"),
    path(
        "me/appointments/<str:appointment_id>/slots/", api.MyAppointmentSlotsApi.as_view(), name="my-appointment-slots"
    ),
    path(
        "me/appointments/<str:appointment_id>/reschedule/",
        api.MyAppointmentRescheduleApi.as_view(),
        name="my-appointment-reschedule",
    ),
    path("appointments/", api.AppointmentsApi.as_view(), name="appointments"),
    path("appointments/check-conflict/", api.CheckConflictApi.as_view(), name="appointment-check-conflict"),
    path("appointments/queue/", api.QueueApi.as_view(), name="appointment-queue"),
    path("appointments/pending/", api.PendingQueueApi.as_view(), name="appointment-pending"),
    path("appointments/slots/", api.FreeSlotsApi.as_view(), name="appointment-slots"),
    path("appointments/<str:appointment_id>/", api.AppointmentApi.as_view(), name="appointment"),
    path(
        "appointments/<str:appointment_id>/reschedule/",
        api.AppointmentRescheduleApi.as_view(),
        name="appointment-reschedule",
    ),
    path("appointments/<str:appointment_id>/refer/", api.AppointmentReferApi.as_view(), name="appointment-refer"),
    path(
        "appointments/<str:appointment_id>/telemedicine/",
        api.TelemedicineLinkApi.as_view(),
        name="appointment-telemedicine",
    ),
    *(
        path(
            f"appointments/<str:appointment_id>/{action}/",
            api.AppointmentTransitionApi.as_view(action_name=action),
            name=f"appointment-{action}",
        )
        for action in TRANSITIONS
    ),
]
