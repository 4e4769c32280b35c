"""PostgreSQL's wall behind the rule that a signed prescription never changes.

`SealSignedPrescriptions()` installs two triggers:

- on prescriptions: once `signed_at` is set, an UPDATE may change only the columns that follow the
  prescription's life (status, cancellation, expiry, the link to what replaced it, the pharmacy
  where it is collected, `updated_at`);
  any other column (patient, prescriber, number, dates of signing and expiry, flags, links) is
  refused, and so is a DELETE;
- on items: once their prescription is signed, an UPDATE may change only `quantity_dispensed` (and
  `updated_at`); an INSERT into a signed prescription, a DELETE, or a change of any other column is
  refused.

As for signed notes (`clinical.db`), a merge of the patient's duplicate records may move them to
the surviving record (and back on undo), and one more change passes: an encrypted column moving to another
key (`phb keys reencrypt`), recognized by its ciphertext naming another key id. Whoever sends the
statement (the application, a script, a raw SQL session of the application role) meets the trigger.
Nothing on SQLite, where the services' checks stand alone."""

from __future__ import annotations

from typing import Any

from phb.clinical.db import patient_kept_or_merged
from phb.kernel.db import PostgresTableOperation

CIPHERTEXT = "^phb1:[^:]+:[A-Za-z0-9+/]+=*$"  # kernel.crypto's format: phb1:<key id>:<base64>
PRESCRIPTION_MUTABLE = ("status", "updated_at", "cancelled_at", "cancelled_by_id", "cancel_reason", "replaced_by_id")
PRESCRIPTION_MUTABLE += ("expired_at", "pharmacy_department_id")  # where it is collected: the patient may choose
ITEM_MUTABLE = ("quantity_dispensed", "updated_at")


def _unchanged(model: Any, q: Any, mutable: tuple[str, ...], encrypted: tuple[str, ...], state: Any) -> str:
    columns = [f.column for f in model._meta.concrete_fields]
    plain = [c for c in columns if c not in mutable and c not in encrypted and c != "patient_id"]
    clauses = [f"NEW.{q(c)} IS NOT DISTINCT FROM OLD.{q(c)}" for c in plain]
    if "patient_id" in columns:  # a merge of the patient's duplicate records moves it, nothing else
        clauses.append(patient_kept_or_merged(state, q))
    clauses += [
        f"(NEW.{q(c)} IS NOT DISTINCT FROM OLD.{q(c)} OR (NEW.{q(c)} ~ '{CIPHERTEXT}' "
        f"AND split_part(NEW.{q(c)}, ':', 2) IS DISTINCT FROM split_part(OLD.{q(c)}, ':', 2)))"
        for c in encrypted
        if c not in mutable
    ]
    return " AND ".join(clauses)


class SealSignedPrescriptions(PostgresTableOperation):
    """`SealSignedPrescriptions("Prescription", "PrescriptionItem")`: the triggers described above."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        q = schema_editor.quote_name
        prescription = to_state.apps.get_model(app_label, self.model_name)
        item = to_state.apps.get_model(app_label, self.args[0])
        rx_table, item_table = prescription._meta.db_table, item._meta.db_table
        refuse = (
            "RAISE EXCEPTION 'a signed prescription cannot change (%)', TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege';"
        )
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {q('phb_seal_' + rx_table)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.signed_at IS NULL THEN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; "
            "IF TG_OP = 'DELETE' OR NOT ("
            + _unchanged(prescription, q, PRESCRIPTION_MUTABLE, ("cancel_reason",), to_state)
            + f") THEN {refuse} END IF; RETURN NEW; END $$",
            params=None,  # '%' is PL/pgSQL's placeholder, not the driver's
        )
        schema_editor.execute(
            f"CREATE TRIGGER {q(rx_table + '_sealed')} BEFORE UPDATE OR DELETE ON {q(rx_table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {q('phb_seal_' + rx_table)}()"
        )
        signed = f"EXISTS (SELECT 1 FROM {q(rx_table)} p WHERE p.id = %s.prescription_id AND p.signed_at IS NOT NULL)"  # noqa: S608 (quoted names of our own tables)
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {q('phb_seal_' + item_table)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'INSERT' THEN "
            f"IF {signed.replace('%s', 'NEW')} THEN {refuse} END IF; RETURN NEW; END IF; "
            f"IF NOT {signed.replace('%s', 'OLD')} THEN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; "
            "IF TG_OP = 'DELETE' OR NOT ("
            + _unchanged(item, q, ITEM_MUTABLE, ("instructions",), to_state)
            + f") THEN {refuse} END IF; RETURN NEW; END $$",
            params=None,
        )
        schema_editor.execute(
            f"CREATE TRIGGER {q(item_table + '_sealed')} BEFORE INSERT OR UPDATE OR DELETE ON {q(item_table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {q('phb_seal_' + item_table)}()"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        q = schema_editor.quote_name
        for name in (self.model_name, self.args[0]):
            table = from_state.apps.get_model(app_label, name)._meta.db_table
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {q(table + '_sealed')} ON {q(table)}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {q('phb_seal_' + table)}()")

    def describe(self) -> str:
        return f"Refuse changes to signed {self.model_name} rows and their items"

    @property
    def migration_name_fragment(self) -> str:
        return "seal_signed_prescriptions"
