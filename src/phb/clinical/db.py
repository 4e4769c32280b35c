"""PostgreSQL's wall behind the rule that a signed note never changes.

`SealSignedRows("ClinicalNote", ...)` installs a trigger that refuses any UPDATE or DELETE of a row
whose `signed_at` is set, whoever sends it (the application, a script, a raw SQL session of the
application role). Two changes only pass: the row moving between a patient's record and the record it
is merged into (a merge of duplicate records, or its undo), and an encrypted column moving to another
key (`phb keys reencrypt` after a rotation), recognized by the key id of its ciphertext
(`phb1:<key id>:...`) changing to another key's (`phb1:<other key id>:...`). A ciphertext that authenticates cannot be made
under a key without holding it: anything else written there fails to decrypt, loudly. Nothing on SQLite."""

from __future__ import annotations

from typing import Any

from phb.kernel.db import PostgresTableOperation

FUNCTION = "phb_refuse_change_of_signed_row"
CIPHERTEXT = "^phb1:[^:]+:[A-Za-z0-9+/]+=*$"  # kernel.crypto's format: phb1:<key id>:<base64>


def patient_kept_or_merged(state: Any, q: Any) -> str:
    """A trigger's condition on a sealed row: its patient is the same, or the row moves between a
    patient's record and the record it is merged into (a merge of duplicate records, or its undo; the
    merge sets the redirect before it moves rows)."""
    patients = q(state.apps.get_model("patients", "Patient")._meta.db_table)
    merged = (
        "(p.id = OLD.patient_id AND p.merged_into_id = NEW.patient_id) "
        "OR (p.id = NEW.patient_id AND p.merged_into_id = OLD.patient_id)"
    )
    return f"(NEW.patient_id IS NOT DISTINCT FROM OLD.patient_id OR EXISTS (SELECT 1 FROM {patients} p WHERE {merged}))"  # noqa: S608  (a quoted table name)


class SealSignedRows(PostgresTableOperation):
    """`SealSignedRows(model_name, encrypted_columns)`: on PostgreSQL, a signed row is immutable but
    for re-encryption of `encrypted_columns` under another key."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        table, q = model._meta.db_table, schema_editor.quote_name
        (encrypted,) = self.args
        plain = [
            f.column for f in model._meta.concrete_fields if f.column not in encrypted and f.column != "patient_id"
        ]
        same_plain = " AND ".join(f"NEW.{q(c)} IS NOT DISTINCT FROM OLD.{q(c)}" for c in plain)
        if any(f.column == "patient_id" for f in model._meta.concrete_fields):
            same_plain += " AND " + patient_kept_or_merged(to_state, q)
        rekeyed = " AND ".join(
            f"(NEW.{q(c)} IS NOT DISTINCT FROM OLD.{q(c)} OR (NEW.{q(c)} ~ '{CIPHERTEXT}' "
            f"AND split_part(NEW.{q(c)}, ':', 2) IS DISTINCT FROM split_part(OLD.{q(c)}, ':', 2)))"
            for c in encrypted
        )
        function = f"{FUNCTION}_{table}"
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {q(function)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.signed_at IS NULL THEN "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END IF; "
            "IF TG_OP = 'DELETE' OR NOT (" + same_plain + " AND " + rekeyed + ") THEN "
            "RAISE EXCEPTION 'a signed row of % cannot change', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
            "END IF; RETURN NEW; END $$",
            params=None,  # '%' is PL/pgSQL's placeholder, not the driver's
        )
        schema_editor.execute(
            f"CREATE OR REPLACE TRIGGER {q(table + '_sealed')} BEFORE UPDATE OR DELETE ON {q(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {q(function)}()"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table, q = from_state.apps.get_model(app_label, self.model_name)._meta.db_table, schema_editor.quote_name
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {q(table + '_sealed')} ON {q(table)}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {q(FUNCTION + '_' + table)}()")

    def describe(self) -> str:
        return f"Refuse changes to signed rows of {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"seal_signed_{self.model_name.lower()}"
