"""Loading the drug release: the shipped files are valid and big enough, a bad release is refused
(naming the file and the entry) without touching the release in force, and `phb terminology load drugs`
is a no-op for the same files and replaces the release for changed ones."""

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from phb.kernel.context import Ctx
from phb.terminology import services
from phb.terminology.drug_data import KnowledgeInvalid, read_drug_release
from phb.terminology.models import Concept, DrugClass, DrugInteraction, DrugKnowledgeRelease
from phb.terminology.public import DRUGS, ProposedDrug, knowledge_version, safety_check
from phb.terminology.sources import DATA, SOURCES, drug_source
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")
SHIPPED = DATA / "drugs"


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


def test_the_shipped_release_is_valid_and_complete_enough():
    release = read_drug_release(SHIPPED / "release.json")
    counts = release.counts()
    assert len({d.code for d in release.drugs}) == counts["drugs"] >= 400
    assert counts["interactions"] >= 250
    assert counts["max_doses"] >= 60
    assert counts["condition_rules"] >= 20
    assert all(rule.source for rule in release.interactions)
    assert DrugKnowledgeRelease.objects.order_by("-loaded_at").first().counts == counts


def copy_release(tmp_path: Path) -> Path:
    target = tmp_path / "drugs"
    shutil.copytree(SHIPPED, target)
    return target


def use(monkeypatch, folder: Path):
    monkeypatch.setitem(SOURCES, "drugs", drug_source(str(folder / "release.json")))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "  b: aspirin\n",
            "  b: aspirine\n",
            "core.yaml: entry 1 (DDI-0001): 'aspirine' is neither a drug nor a class",
        ),
        (
            "  severity: major\n",
            "  severity: severe\n",
            "core.yaml: entry 1 (DDI-0001): severity 'severe' is not one of",
        ),
        ("- id: DDI-0002\n", "- id: DDI-0001\n", "core.yaml: entry 2 (DDI-0001): this id is already used"),
        (
            '  source: "FDA label: Coumadin (warfarin sodium), section 5.1',
            '  source: ""\n  x_source: "',
            "core.yaml: entry 1 (DDI-0001): `source` is required",
        ),
    ],
)
def test_a_bad_release_is_refused_and_the_loaded_one_stays(tmp_path, monkeypatch, old, new, problem):
    folder = copy_release(tmp_path)
    edit(folder / "interactions" / "core.yaml", old, new)
    before = (DrugKnowledgeRelease.objects.count(), DrugInteraction.objects.count(), knowledge_version())
    use(monkeypatch, folder)
    with pytest.raises(KnowledgeInvalid) as raised:
        services.code_system_load(ctx=SYSTEM, slug="drugs")
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems
    assert (DrugKnowledgeRelease.objects.count(), DrugInteraction.objects.count(), knowledge_version()) == before


def test_a_class_member_or_a_catalogue_class_that_does_not_exist_is_refused(tmp_path):
    folder = copy_release(tmp_path)
    edit(folder / "properties.yaml", "members: [amiodarone,", "members: [amiodarne,")
    edit(folder / "catalogue" / "analgesics.yaml", "classes: [nsaids]", "classes: [nsaid]")
    with pytest.raises(KnowledgeInvalid) as raised:
        read_drug_release(folder / "release.json")
    text = str(raised.value)
    assert "properties.yaml: entry 1 (qt-prolonging): member 'amiodarne' is not a drug of the catalogue" in text
    assert "analgesics.yaml: entry 2 (ibuprofen): class 'nsaid' is not in the classes file" in text


def command(*args):
    out = io.StringIO()
    call_command("terminology", *args, stdout=out)
    return out.getvalue()


def test_reloading_the_same_release_is_a_no_op(django_assert_max_num_queries):
    latest = DrugKnowledgeRelease.objects.order_by("-loaded_at").first()
    assert "already loaded" in command("load", "drugs")
    with django_assert_max_num_queries(6):
        assert services.code_system_load(ctx=SYSTEM, slug="drugs").unchanged
    assert DrugKnowledgeRelease.objects.order_by("-loaded_at").first() == latest
    assert "drug knowledge" in command("status")


def test_a_changed_release_replaces_the_one_in_force(tmp_path, monkeypatch):
    folder = copy_release(tmp_path)
    manifest = json.loads((folder / "release.json").read_text())
    manifest["version"] = "2099.1.1"
    (folder / "release.json").write_text(json.dumps(manifest))
    edit(
        folder / "interactions" / "core.yaml", "  b: aspirin\n  severity: major\n", "  b: aspirin\n  severity: minor\n"
    )
    classes = DrugClass.objects.count()
    use(monkeypatch, folder)

    output = command("load", "drugs")
    assert "2099.1.1" in output
    assert knowledge_version() == "2099.1.1"
    assert DrugInteraction.objects.get(rule_id="DDI-0001").severity == "minor"
    assert DrugClass.objects.count() == classes
    alerts = safety_check(proposed=[ProposedDrug("a", "aspirin")], current=["warfarin"])
    assert [(a.rule, a.severity) for a in alerts] == [("DDI-0001", "minor")]
    assert Concept.objects.filter(system__uri=DRUGS, active=True).count() == len(SOURCES["drugs"].release.drugs)
    assert "already loaded" in command("load", "drugs")
