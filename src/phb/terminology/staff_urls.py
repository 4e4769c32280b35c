from django.urls import path

from phb.terminology import views

app_name = "terminology_staff"
urlpatterns = [
    path("<slug:system>/search/", views.concept_options, name="search"),
]
