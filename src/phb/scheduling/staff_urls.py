from django.urls import path

from phb.scheduling import views

app_name = "scheduling_staff"
urlpatterns = [
    path("", views.reception, name="reception"),
    path("book/", views.book, name="book"),
    path("queue/", views.queue, name="queue"),
    path("day/", views.my_day, name="day"),
    path("appointments/", views.appointment_admin_list, name="appointments"),
    path("appointments/<uuid:appointment_id>/check-in/", views.check_in, name="check-in"),
    path("appointments/<uuid:appointment_id>/<str:action>/", views.act, name="act"),
]
