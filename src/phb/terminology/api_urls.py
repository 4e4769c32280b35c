from django.urls import path

from phb.terminology import api

urlpatterns = [
    path("terminology/", api.CodeSystemListApi.as_view(), name="terminology-systems"),
    path("terminology/<str:system>/", api.ConceptSearchApi.as_view(), name="terminology-search"),
    path("terminology/<str:system>/<str:code>/", api.ConceptApi.as_view(), name="terminology-concept"),
]
