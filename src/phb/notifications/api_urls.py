from django.urls import path

from phb.notifications import api

urlpatterns = [
    path("me/notifications/", api.MyNotificationsApi.as_view(), name="my-notifications"),
]
