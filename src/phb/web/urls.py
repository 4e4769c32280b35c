from django.urls import path

from phb.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:slug>/", views.portal, name="portal"),
]
