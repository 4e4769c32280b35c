"""`phb api-client create --organization ID --scopes "..." [--name NAME]`, `list --organization ID`,
`revoke --organization ID CLIENT`: API clients for operators (the administrator's page does the same)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phb.accounts import api_clients
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError


def _organization(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise CommandError(f"--organization must be an organization id (a UUID), not {value!r}") from exc


class Command(BaseCommand):
    help = "Register, list and revoke API clients (OAuth2 client credentials) of an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--organization", required=True)
        create.add_argument(
            "--scopes", required=True, help='e.g. "system/Patient.read system/Observation.read" or "system/*.*"'
        )
        create.add_argument("--name", default="API client")
        listing = sub.add_parser("list")
        listing.add_argument("--organization", required=True)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("--organization", required=True)
        revoke.add_argument("client_id")

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = Ctx.system(
            reason=f"phb api-client {options['action']}", organization_id=_organization(options["organization"])
        )
        try:
            if options["action"] == "create":
                client, secret = api_clients.api_client_create(ctx=ctx, name=options["name"], scopes=options["scopes"])
                self.stdout.write(
                    f"client_id: {client.client_id}\nclient_secret: {secret}\nscopes: {' '.join(client.scopes)}"
                )
                self.stderr.write("The secret is not stored; keep it now.")
            elif options["action"] == "list":
                for c in api_clients.api_client_list(ctx=ctx):
                    state = "active" if c.is_active else f"revoked {c.revoked_at:%Y-%m-%d}"
                    self.stdout.write(f"{c.client_id}\t{c.name}\t{' '.join(c.scopes)}\t{state}")
            else:
                found = api_clients.api_client_list(ctx=ctx).filter(client_id=options["client_id"]).first()
                if found is None:
                    raise CommandError("no such client in this organization")
                api_clients.api_client_revoke(ctx=ctx, api_client_id=found.id)
                self.stdout.write(f"revoked {found.client_id}")
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc
