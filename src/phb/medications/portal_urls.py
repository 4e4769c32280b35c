from django.urls import path

from phb.medications import portal_views

app_name = "medications_portal"
urlpatterns = [
    path("", portal_views.my_medications, name="home"),
    path("prescriptions/<uuid:prescription_id>/repeat/", portal_views.my_repeat_request, name="repeat"),
    path("doses/<uuid:dose_id>/", portal_views.my_dose_mark, name="dose"),
    path("prescriptions/<uuid:prescription_id>/pharmacy/", portal_views.my_pharmacy_choose, name="pharmacy"),
]
