"""Reads of notifications: a signed-in user's own in-application list. A reminder says when and where
a person is expected, so every read is audited, and a refused one too."""

from __future__ import annotations

from django.db.models import QuerySet

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Unauthorized
from phb.notifications.models import Notification


@audit.reads_health_data
def notification_list(*, ctx: Ctx) -> QuerySet[Notification]:
    """My notifications, newest first."""
    action = "notifications.notification.list"
    if not ctx.is_authenticated or ctx.actor_id is None:
        raise audit.denied(ctx, action, Unauthorized("sign in to see your notifications"))
    audit.record(ctx, action, read=True)
    return Notification.objects.filter(user_id=ctx.actor_id).order_by("-created_at", "-id")
