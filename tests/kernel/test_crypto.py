"""Field encryption: ciphertext at rest, bound to its column, clear errors, rotation without downtime."""

import os
import subprocess
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from phb.accounts.models import BreakGlassAccess
from phb.kernel import crypto
from phb.kernel.context import Ctx
from tests.accounts.factories import UserFactory

SECRET_REASON = "Unconscious patient brought in by ambulance"


@pytest.fixture(autouse=True)
def ring(tmp_path, settings):
    settings.KEYRING_JSON = ""
    settings.KEYRING_PATH = tmp_path / "keyring.json"
    crypto.reset_keyring()
    yield settings.KEYRING_PATH
    crypto.reset_keyring()


def make_access(org, reason=SECRET_REASON):
    return BreakGlassAccess.objects.create(
        organization=org, user=UserFactory(), patient_id=uuid.uuid4(), reason=reason, expires_at="2030-01-01T00:00:00Z"
    )


def raw(access, column="reason"):
    from phb.kernel import tenancy

    with tenancy.bound(organization_id=access.organization_id), connection.cursor() as cursor:
        pk = BreakGlassAccess._meta.pk.get_db_prep_value(access.id, connection)
        cursor.execute(f"SELECT {column} FROM accounts_breakglassaccess WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_values_are_ciphertext_at_rest_and_plaintext_in_the_application(org_a, ctx_a):
    access = make_access(org_a)
    stored = raw(access)
    assert stored.startswith("phb1:k1:")
    assert "Unconscious" not in stored
    assert BreakGlassAccess.objects.for_tenant(ctx_a).get(id=access.id).reason == SECRET_REASON


@pytest.mark.django_db
def test_the_same_plaintext_encrypts_differently_each_time(org_a):
    assert raw(make_access(org_a)) != raw(make_access(org_a))


@pytest.mark.django_db
def test_a_ciphertext_moved_to_another_column_does_not_decrypt(org_a, ctx_a):
    access = make_access(org_a)
    from phb.kernel import tenancy

    with tenancy.bound(organization_id=org_a.id), connection.cursor() as cursor:
        pk = BreakGlassAccess._meta.pk.get_db_prep_value(access.id, connection)
        cursor.execute("UPDATE accounts_breakglassaccess SET review_note = reason WHERE id = %s", [pk])
    with pytest.raises(crypto.DecryptionError, match="key k1"):
        BreakGlassAccess.objects.for_tenant(ctx_a).get(id=access.id)


def test_an_altered_ciphertext_is_an_error_not_garbage():
    value = crypto.encrypt("secret", context="t.f")
    tampered = value[:-6] + ("A" if value[-6] != "A" else "B") + value[-5:]
    with pytest.raises(crypto.DecryptionError, match="key k1"):
        crypto.decrypt(tampered, context="t.f")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("plain text", context="t.f")


def test_a_missing_key_is_named(ring):
    value = crypto.encrypt("secret", context="t.f")
    crypto.save_keyring(crypto.keyring().with_new_active_key().without("k1"), ring)
    with pytest.raises(crypto.KeyRingError, match="key k1 is not in the key ring"):
        crypto.decrypt(value, context="t.f")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"active": "k9", "keys": {}, "blind_index_key": ""}',
        '{"active": "k1", "keys": {"k1": "c2hvcnQ="}, "blind_index_key": "c2hvcnQ="}',
    ],
)
def test_a_malformed_key_ring_is_refused(text):
    with pytest.raises(crypto.KeyRingError):
        crypto.KeyRing.from_json(text)


@pytest.mark.django_db
def test_encrypted_fields_cannot_be_searched_by_value(ctx_a):
    with pytest.raises(TypeError, match="encrypted"):
        BreakGlassAccess.objects.for_tenant(ctx_a).filter(reason=SECRET_REASON)
    assert not BreakGlassAccess.objects.for_tenant(ctx_a).filter(review_note__isnull=False).exists()


def test_blind_index_is_keyed_normalized_and_separated_by_purpose(ring):
    a = crypto.blind_index("A12-345 67", purpose="patients.nin")
    assert a == crypto.blind_index(" a1234567 ", purpose="patients.nin")
    assert a != crypto.blind_index("A1234567", purpose="patients.passport")
    assert len(a) == 64
    crypto.save_keyring(crypto.KeyRing.generate(), ring)
    assert crypto.blind_index("A1234567", purpose="patients.nin") != a  # a different key, a different index


@pytest.mark.django_db(transaction=True)
def test_rotation_reencryption_and_retiring_the_old_key(org_a, capsys):
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    old = [make_access(org_a, reason=f"reason number {i}") for i in range(7)]
    call_command("keys", "rotate")
    assert crypto.keyring().active == "k2"
    new = make_access(org_a, reason="written after rotation")
    assert raw(new).startswith("phb1:k2:")
    assert raw(old[0]).startswith("phb1:k1:")  # still readable before it is moved
    assert BreakGlassAccess.objects.for_tenant(ctx).get(id=old[0].id).reason == "reason number 0"
    with pytest.raises(CommandError, match="still encrypts 14 values"):
        call_command("keys", "retire", "k1")
    call_command("keys", "reencrypt", "--batch", "3")
    assert "14 values moved to key k2" in capsys.readouterr().out  # reason and (blank) review note
    assert all(raw(a).startswith("phb1:k2:") for a in old)
    call_command("keys", "retire", "k1")
    assert set(crypto.keyring().keys) == {"k2"}
    assert sorted(a.reason for a in BreakGlassAccess.objects.for_tenant(ctx)) == sorted(
        [f"reason number {i}" for i in range(7)] + ["written after rotation"]
    )
    call_command("keys", "reencrypt")  # resumable: nothing left to do
    assert "0 values moved" in capsys.readouterr().out


def test_the_active_key_cannot_be_retired():
    with pytest.raises(crypto.KeyRingError, match="active"):
        crypto.keyring().without("k1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_plaintext_of_encrypted_fields(org_a):
    make_access(org_a)
    db = connection.settings_dict
    # As the application role, row-level security applies to pg_dump too: it dumps every tenant's rows
    # when told to respect the policy and bound to all tenants (README, "Database roles").
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or "", "PGOPTIONS": "-c phb.all_tenants=on"}
    host, port = db.get("HOST") or "127.0.0.1", str(db.get("PORT") or 5432)
    args = ["pg_dump", "--data-only", "--enable-row-security", "-h", host, "-p", port, "-U", db["USER"], db["NAME"]]
    dump = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert dump.returncode == 0, dump.stderr
    assert "accounts_breakglassaccess" in dump.stdout
    assert "phb1:k1:" in dump.stdout
    assert "Unconscious" not in dump.stdout
