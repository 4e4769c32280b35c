from django.urls import path  # noqa: F401

app_name = "medications_staff"
urlpatterns: list = []
