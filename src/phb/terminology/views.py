"""The staff pages' piece of terminology: a type-ahead list of concepts for a picker.

`terminology/_picker.html` is the piece a form includes: a search box that asks this view, as the user
types, for a list of matching concepts as radio buttons; the chosen one is submitted with the form
under the name the form gave (no script of our own)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from phb.kernel.errors import ProblemError
from phb.terminology import policies, selectors

View = Callable[..., HttpResponse]
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def staff_only(view: View) -> View:
    """Signed-in staff acting for an organization, second factor passed (see `policies`)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        verified = getattr(request.user, "is_verified", None)
        if not (callable(verified) and verified()) or not policies.can_browse(request.ctx):  # type: ignore[attr-defined]
            return render(request, "403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
@staff_only
def concept_options(request: HttpRequest, system: str) -> HttpResponse:
    """Concepts matching `?q=` (or `?<name>_q=`, the picker's box) as radio buttons named `?name=`
    (default `code`); a short hint instead when the text cannot be searched. Always 200 for a search,
    good or bad: htmx swaps only successful responses."""
    name = request.GET.get("name", "code")
    if not _FIELD_NAME.fullmatch(name):
        name = "code"
    text = request.GET.get("q") or request.GET.get(f"{name}_q", "")
    concepts, hint = [], ""
    try:
        limit = int(request.GET.get("limit", selectors.DEFAULT_LIMIT))
    except ValueError:
        limit = selectors.DEFAULT_LIMIT
    try:
        concepts = selectors.search(system, text, min(max(limit, 1), selectors.MAX_LIMIT))
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        if exc.status != 400:
            raise
        hint = exc.detail if not exc.extra.get("errors") else exc.extra["errors"][0]["message"]
    context = {"concepts": concepts, "hint": hint, "name": name, "searched": bool(text.strip())}
    return render(request, "terminology/_concept_options.html", context)
