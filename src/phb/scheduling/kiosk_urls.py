from django.urls import path

from phb.scheduling import kiosk_views

app_name = "kiosk"
urlpatterns = [
    path("", kiosk_views.kiosk_home, name="home"),
    path("display/", kiosk_views.kiosk_display, name="display"),
]
