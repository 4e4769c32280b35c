from django.urls import path

from phb.scheduling import views

app_name = "scheduling_portal"
urlpatterns = [
    path("", views.my_appointments, name="appointments"),
    path("book/", views.my_appointment_book, name="book"),
    path("<uuid:appointment_id>/cancel/", views.my_appointment_cancel, name="cancel"),
    path("<uuid:appointment_id>/reschedule/", views.my_appointment_reschedule, name="reschedule"),
]
