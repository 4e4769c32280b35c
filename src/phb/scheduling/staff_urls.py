from django.urls import path

from phb.scheduling import kiosk_views, views

app_name = "scheduling_staff"
urlpatterns = [
    path("", views.reception, name="reception"),
    path("week/", views.week, name="week"),
    path("book/", views.book, name="book"),
    path("queue/", views.queue, name="queue"),
    path("day/", views.my_day, name="day"),
    path("appointments/", views.appointment_admin_list, name="appointments"),
    path("appointments/<uuid:appointment_id>/check-in/", views.check_in, name="check-in"),
    path("appointments/<uuid:appointment_id>/<str:action>/", views.act, name="act"),
    path("kiosks/", kiosk_views.kiosk_admin, name="kiosks"),
    path("kiosks/<uuid:kiosk_id>/enrol/", kiosk_views.kiosk_enrol, name="kiosk-enrol"),
    path("kiosks/<uuid:kiosk_id>/revoke/", kiosk_views.kiosk_revoke, name="kiosk-revoke"),
    path("kiosks/<uuid:kiosk_id>/active/", kiosk_views.kiosk_activate, name="kiosk-active"),
]
