from django.urls import path  # noqa: F401

app_name = "medications_portal"
urlpatterns: list = []
