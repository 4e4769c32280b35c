"""`phb keys status|rotate|reencrypt|retire KID`: field-encryption key management."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from phb.kernel import crypto, tenancy


def _rows_under(model: Any, field: Any, kid: str | None, *, limit: int | None = None) -> list[tuple[Any, str]]:
    table, column, pk = (
        connection.ops.quote_name(n) for n in (model._meta.db_table, field.column, model._meta.pk.column)
    )
    where = f"{column} LIKE %s" if kid else f"{column} IS NOT NULL"
    # Identifiers are quoted names from the model's metadata; every value is a parameter.
    sql = f"SELECT {pk}, {column} FROM {table} WHERE {where} ORDER BY {pk}"  # noqa: S608
    sql += f" LIMIT {int(limit)}" if limit else ""
    with tenancy.bound(organization_id=None, all_tenants=True), connection.cursor() as cursor:
        cursor.execute(sql, [f"{crypto.PREFIX}:{kid}:%"] if kid else [])
        return list(cursor.fetchall())


def reencrypt(*, batch: int = 500, out: Any = None) -> int:
    """Move every value not under the active key to it, batch by batch. Resumable: it only ever looks for
    values under other keys; each row is updated only if nobody changed it meanwhile (compare-and-set)."""
    active = crypto.keyring().active
    moved = 0
    for model, field in crypto.encrypted_fields():
        table, column, pk = (
            connection.ops.quote_name(n) for n in (model._meta.db_table, field.column, model._meta.pk.column)
        )
        update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s"  # noqa: S608 (quoted names)
        for kid in [k for k in crypto.keyring().keys if k != active]:
            while rows := _rows_under(model, field, kid, limit=batch):
                with (
                    transaction.atomic(),
                    tenancy.bound(organization_id=None, all_tenants=True),
                    connection.cursor() as cursor,
                ):
                    for row_pk, old in rows:
                        new = crypto.encrypt(
                            crypto.decrypt(old, context=field.crypto_context), context=field.crypto_context
                        )
                        cursor.execute(update, [new, row_pk, old])
                        moved += cursor.rowcount
                if out:
                    out.write(f"{field.crypto_context}: {moved} values re-encrypted so far")
    return moved


def usage() -> dict[str, dict[str, int]]:
    """Per encrypted field, how many values each key holds."""
    out: dict[str, dict[str, int]] = {}
    for model, field in crypto.encrypted_fields():
        counts: dict[str, int] = {}
        for _, value in _rows_under(model, field, None):
            kid = crypto.key_id_of(value) or "not-encrypted"
            counts[kid] = counts.get(kid, 0) + 1
        out[field.crypto_context] = counts
    return out


class Command(BaseCommand):
    help = "Field-encryption keys: status, rotate (new active key), reencrypt (move data to it), retire KID."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status")
        sub.add_parser("rotate")
        reenc = sub.add_parser("reencrypt")
        reenc.add_argument("--batch", type=int, default=500)
        retire = sub.add_parser("retire")
        retire.add_argument("kid")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        ring = crypto.keyring()
        if action == "status":
            self.stdout.write(f"active key: {ring.active}; keys: {', '.join(sorted(ring.keys))}")
            for context, counts in usage().items():
                self.stdout.write(
                    f"  {context}: " + (", ".join(f"{k}={n}" for k, n in sorted(counts.items())) or "empty")
                )
        elif action == "rotate":
            if self._from_environment():
                raise CommandError("the key ring comes from PHB_KEYRING_JSON: add the key there and redeploy")
            new = ring.with_new_active_key()
            crypto.save_keyring(new)
            self.stdout.write(f"new active key {new.active}; back up the key ring now, then run `phb keys reencrypt`")
        elif action == "reencrypt":
            self.stdout.write(f"{reencrypt(batch=options['batch'])} values moved to key {ring.active}")
        elif action == "retire":
            kid = options["kid"]
            in_use = {c: n for c, counts in usage().items() for k, n in counts.items() if k == kid}
            if in_use:
                raise CommandError(
                    f"key {kid} still encrypts {sum(in_use.values())} values: run `phb keys reencrypt` first"
                )
            if self._from_environment():
                raise CommandError("the key ring comes from PHB_KEYRING_JSON: remove the key there and redeploy")
            crypto.save_keyring(ring.without(kid))
            self.stdout.write(f"key {kid} retired")

    def _from_environment(self) -> bool:
        from django.conf import settings

        return bool(settings.KEYRING_JSON)
