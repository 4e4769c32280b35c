from django.urls import path

from phb.clinical import views

app_name = "clinical_portal"
urlpatterns = [
    path("", views.my_record, name="record"),
]
