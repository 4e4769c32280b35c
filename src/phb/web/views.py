"""The landing page and the portal entry points (each portal's own pages arrive with its issue)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from phb.web.context_processors import PORTALS


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


def portal(request: HttpRequest, slug: str) -> HttpResponse:
    found = next((p for p in PORTALS if p["slug"] == slug), None)
    if found is None:
        raise Http404
    return render(request, "web/portal.html", {"portal": found})
