"""Filters of the export's PDF template, which reads the JSON document (times as ISO 8601 text)."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def when(value: object) -> str:
    """'2026-11-30T08:43:23Z' as '2026-11-30 08:43 UTC'; anything else unchanged, nothing as ''."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
