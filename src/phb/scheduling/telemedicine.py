"""Meeting links for telemedicine appointments, from the provider named by `TELEMEDICINE_PROVIDER`.
The default builds a Jitsi-compatible URL on `TELEMEDICINE_BASE_URL` from an unguessable room name."""

from __future__ import annotations

import secrets
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class MeetingProvider(Protocol):
    def create_meeting(self) -> str:
        """A new meeting's URL. It must not contain anything about the patient or the visit."""


class JitsiProvider:
    def create_meeting(self) -> str:
        # SECURITY: 192 random bits; the room name is the only thing keeping strangers out.
        return f"{settings.TELEMEDICINE_BASE_URL.rstrip('/')}/phb-{secrets.token_urlsafe(24)}"


def meeting_url_create() -> str:
    provider: MeetingProvider = import_string(settings.TELEMEDICINE_PROVIDER)()
    return provider.create_meeting()
