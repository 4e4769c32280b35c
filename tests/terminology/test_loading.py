"""Loading the shipped code tables: there after migrate, idempotent, merged when a table changes
(added, changed, made inactive), the ICD-10-CM table's quirk corrected, and the command."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from phb.kernel.context import Ctx
from phb.terminology import services
from phb.terminology.coding import ICD10_CM, LOINC
from phb.terminology.models import CodeSystem, Concept
from phb.terminology.sources import SOURCES
from tests.terminology.factories import ensure_code_systems, small_icd_table, small_source

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


def concepts(uri):
    return Concept.objects.filter(system__uri=uri)


def test_migrate_loaded_icd10_cm_and_the_loinc_subset():
    icd = CodeSystem.objects.get(uri=ICD10_CM)
    assert (icd.slug, icd.version, icd.content) == ("icd10-cm", "2026", "complete")
    assert "public domain" in icd.copyright
    assert icd.source_sha256 == SOURCES["icd10-cm"].sha256
    assert concepts(ICD10_CM).count() == 98_466
    assert concepts(ICD10_CM).filter(selectable=True).count() == 74_719
    assert concepts(ICD10_CM).filter(heading=True).count() == 22 + 258
    loinc = CodeSystem.objects.get(uri=LOINC)
    assert loinc.content == "fragment"
    assert "Regenstrief Institute" in loinc.copyright
    assert concepts(LOINC).count() == 109
    systolic = concepts(LOINC).get(code="8480-6")
    assert systolic.properties == {"category": "vital-signs", "unit": "mm[Hg]"}


def test_loading_again_is_a_no_op(django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        result = services.code_system_load(ctx=SYSTEM, slug="icd10-cm")
    assert result.unchanged
    assert result.concepts == 98_466


def test_a_forced_reload_of_the_same_table_changes_nothing():
    """Every value read back equals the one loaded (the LOINC subset: it has properties too)."""
    before = dict(concepts(LOINC).values_list("code", "id"))
    result = services.code_system_load(ctx=SYSTEM, slug="loinc", force=True)
    assert (result.added, result.changed, result.deactivated, result.concepts) == (0, 0, 0, 109)
    assert dict(concepts(LOINC).values_list("code", "id")) == before


def test_a_single_category_block_becomes_its_category():
    """The table writes B20 as two "block" rows, each its own parent; it is a billable category."""
    hiv = concepts(ICD10_CM).get(code="B20")
    assert (hiv.level, hiv.parent_code, hiv.selectable, hiv.heading) == ("category", "1", True, False)
    herpes = concepts(ICD10_CM).get(code="B10")
    assert (herpes.level, herpes.selectable) == ("category", False)
    assert concepts(ICD10_CM).get(code="B10.0").parent_code == "B10"


def test_the_hierarchy_holds_together():
    e119 = concepts(ICD10_CM).get(code="E11.9")
    assert (e119.display, e119.level, e119.selectable, e119.parent_code) == (
        "Type 2 diabetes mellitus without complications",
        "subcategory",
        True,
        "E11",
    )
    assert e119.code_key == "E119"
    assert concepts(ICD10_CM).get(code="E11").parent_code == "E08-E13"
    assert concepts(ICD10_CM).get(code="E08-E13").heading
    codes = set(concepts(ICD10_CM).values_list("code", flat=True))
    parents = set(concepts(ICD10_CM).exclude(parent_code="").values_list("parent_code", flat=True))
    assert parents <= codes
    accented = concepts(ICD10_CM).get(code="H81.01")
    assert accented.display.startswith("Ménière's")
    assert accented.search_text.startswith("menieres disease")


ROWS = [
    ("1", "chapter", "N", "Test chapter (T00-T01)", ""),
    ("T00-T01", "block", "N", "Test block (T00-T01)", "1"),
    ("T00", "category", "N", "Test category", "T00-T01"),
    ("T00.0", "subcategory", "Y", "First leaf", "T00"),
    ("T00.1", "subcategory", "Y", "Second leaf", "T00"),
]


def test_a_changed_table_is_merged(tmp_path, monkeypatch):
    path = small_icd_table(tmp_path / "v1.tsv.gz", ROWS)
    monkeypatch.setitem(SOURCES, "test-icd", small_source(path, version="1"))
    first = services.code_system_load(ctx=SYSTEM, slug="test-icd")
    assert (first.added, first.concepts) == (5, 5)
    uri = SOURCES["test-icd"].uri
    ids = dict(concepts(uri).values_list("code", "id"))

    rows = [
        *ROWS[:3],
        ("T00.0", "subcategory", "Y", "First leaf, renamed", "T00"),
        ("T00.2", "subcategory", "Y", "Third", "T00"),
    ]
    path = small_icd_table(tmp_path / "v2.tsv.gz", rows)
    monkeypatch.setitem(SOURCES, "test-icd", small_source(path, version="2"))
    second = services.code_system_load(ctx=SYSTEM, slug="test-icd")
    assert (second.added, second.changed, second.deactivated, second.concepts) == (1, 1, 1, 5)
    assert CodeSystem.objects.get(uri=uri).version == "2"
    assert concepts(uri).get(code="T00.0").display == "First leaf, renamed"
    assert concepts(uri).get(code="T00.0").search_text == "first leaf renamed"
    gone = concepts(uri).get(code="T00.1")
    assert not gone.active  # kept: records may point at it
    assert gone.id == ids["T00.1"]
    assert concepts(uri).get(code="T00.0").id == ids["T00.0"]

    again = services.code_system_load(ctx=SYSTEM, slug="test-icd", force=True)
    assert (again.added, again.changed, again.deactivated) == (0, 0, 0)


def test_a_code_that_comes_back_is_active_again(tmp_path, monkeypatch):
    monkeypatch.setitem(SOURCES, "test-icd", small_source(small_icd_table(tmp_path / "a.tsv.gz", ROWS), version="1"))
    services.code_system_load(ctx=SYSTEM, slug="test-icd")
    monkeypatch.setitem(
        SOURCES, "test-icd", small_source(small_icd_table(tmp_path / "b.tsv.gz", ROWS[:4]), version="2")
    )
    assert services.code_system_load(ctx=SYSTEM, slug="test-icd").deactivated == 1
    monkeypatch.setitem(SOURCES, "test-icd", small_source(small_icd_table(tmp_path / "c.tsv.gz", ROWS), version="3"))
    result = services.code_system_load(ctx=SYSTEM, slug="test-icd")
    assert (result.added, result.changed, result.concepts) == (0, 1, 5)
    assert concepts(SOURCES["test-icd"].uri).get(code="T00.1").active


def test_a_table_with_a_code_twice_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    path = small_icd_table(tmp_path / "bad.tsv.gz", [*ROWS, ROWS[3]])
    monkeypatch.setitem(SOURCES, "test-icd", small_source(path))
    with pytest.raises(ValueError, match=r"T00\.0 twice"):
        services.code_system_load(ctx=SYSTEM, slug="test-icd")
    assert not CodeSystem.objects.filter(uri=SOURCES["test-icd"].uri).exists()


def test_loading_is_platform_work_and_names_a_shipped_table():
    with pytest.raises(ValueError, match=r"Ctx\.system"):
        services.code_system_load(ctx=Ctx(actor_id=None), slug="icd10-cm")
    with pytest.raises(services.UnknownCodeSystem) as caught:
        services.code_system_load(ctx=SYSTEM, slug="icd-11")
    assert caught.value.code == "UNKNOWN_CODE_SYSTEM"


def test_after_migrate_the_tables_are_loaded_but_not_after_a_flush(monkeypatch):
    calls = []
    monkeypatch.setattr(services, "code_system_load", lambda **kwargs: calls.append(kwargs["slug"]))
    services.load_after_migrate(using="default", verbosity=0)  # flush: no plan
    assert calls == []
    services.load_after_migrate(using="default", verbosity=0, plan=[])
    assert calls == list(SOURCES)


def test_the_command_loads_and_reports():
    out = io.StringIO()
    call_command("terminology", "load", "all", stdout=out)
    assert "icd10-cm 2026: already loaded (98,466 concepts)" in out.getvalue()
    assert "loinc subset: already loaded (109 concepts)" in out.getvalue()
    out = io.StringIO()
    call_command("terminology", "status", stdout=out)
    assert "ICD-10-CM 2026: 98,466 active concepts" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("terminology", "load", "icd-11")


@pytest.mark.postgres
def test_postgresql_compares_code_keys_byte_by_byte_and_indexes_the_words():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [Concept._meta.db_table, "code_key"],
        )
        assert cursor.fetchone()[0] == "C"
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [services.FULL_TEXT_INDEX])
        assert "to_tsvector('simple'::regconfig" in cursor.fetchone()[0]
