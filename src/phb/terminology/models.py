"""Code systems and their concepts: reference data shared by every organization (not tenant-owned).

A coding anywhere in PHB is system + code + display. The systems PHB ships (ICD-10-CM, a LOINC subset)
are held here so that codes can be looked up, searched and checked; a coding of a system not held here
(SNOMED CT from Synthea, RxNorm, ...) is stored as given.
"""

from __future__ import annotations

from django.db import models

from phb.kernel.models import BaseModel


class Content(models.TextChoices):
    """How much of the code system is held (FHIR CodeSystem.content)."""

    COMPLETE = "complete", "Complete: a code not held is not a code of the system"
    FRAGMENT = "fragment", "Fragment: a subset; other well-formed codes may be valid"


class CodeSystem(BaseModel):
    uri = models.CharField(max_length=255, unique=True, help_text="The canonical URI, as in FHIR Coding.system.")
    slug = models.SlugField(max_length=40, unique=True, help_text="Its short name in URLs (icd10-cm).")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=40)
    content = models.CharField(max_length=10, choices=Content.choices)
    copyright = models.TextField(blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True, help_text="Of the file the concepts came from.")
    loaded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Concept(models.Model):
    """One code of a system. A code dropped by a newer release stays, inactive: records keep pointing at it.

    Not a BaseModel: a concept is named by system and code, never by its id, and a load writes 98,500
    of them; a database-generated integer key and no per-row times keep that to a couple of seconds
    (the code system records when it was loaded)."""

    id = models.BigAutoField(primary_key=True)
    system = models.ForeignKey(CodeSystem, on_delete=models.CASCADE, related_name="concepts")
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=500)
    parent_code = models.CharField(max_length=40, blank=True)
    level = models.CharField(max_length=20, blank=True, help_text="ICD-10-CM: chapter, block, category, subcategory.")
    selectable = models.BooleanField(default=True, help_text="May be recorded as is (ICD-10-CM: billable).")
    heading = models.BooleanField(default=False, help_text="Names a range of codes (a chapter, a block): not a code.")
    active = models.BooleanField(default=True)
    properties = models.JSONField(default=dict, blank=True)
    # Derived at load time, for search: the code upper-cased without punctuation ("E11.9" -> "E119"),
    # compared byte by byte on PostgreSQL (COLLATE "C", set in the migration: a later AlterField of
    # this column must set it again); the display folded to lower-case ASCII words.
    code_key = models.CharField(max_length=40)
    search_text = models.CharField(max_length=600)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="terminology_concept_unique_code")]
        indexes = [models.Index(fields=["system", "code_key"], name="terminology_concept_code_key")]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


# --------------------------------------------------------------------------------------------------
# Medication-safety knowledge (data/drugs/): shared reference data like the concepts, not tenant-owned.
# The drug catalogue itself is a code system (concepts of DRUGS); these tables hold the rules about its
# drugs, replaced as a whole by each release (services.code_system_load of "drugs").
# --------------------------------------------------------------------------------------------------


class DrugKnowledgeRelease(BaseModel):
    """One load of a knowledge release; the latest is the one in force. Its id keys the in-process
    index of the rules (selectors.drug_knowledge), and its version is recorded with each check."""

    version = models.CharField(max_length=40)
    sha256 = models.CharField(
        max_length=64, help_text="Of the release's files (data/drugs/release.json and those it lists)."
    )
    loaded_at = models.DateTimeField()
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-loaded_at"], name="terminology_drugrelease_latest")]

    def __str__(self) -> str:
        return f"drug knowledge {self.version}"


class DrugClass(models.Model):
    """A class of drugs: therapeutic, pharmacologic (qt-prolonging, strong-cyp3a4-inhibitors), an allergy
    group, or a duplicate-therapy group. `members` is flattened (sub-classes and combinations in)."""

    id = models.BigAutoField(primary_key=True)
    code = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20)
    atc = models.CharField(max_length=10, blank=True)
    includes = models.JSONField(default=list, blank=True)
    members = models.JSONField(default=list, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    severity = models.CharField(max_length=20, blank=True)
    advice = models.TextField(blank=True)
    source = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.code


class DrugInteraction(models.Model):
    """A drug-drug interaction rule; `a` and `b` are each a drug code or a class code."""

    id = models.BigAutoField(primary_key=True)
    rule_id = models.CharField(max_length=20, unique=True)
    a = models.CharField(max_length=60)
    b = models.CharField(max_length=60)
    severity = models.CharField(max_length=20)
    effect = models.CharField(max_length=200)
    mechanism = models.TextField()
    management = models.TextField()
    source = models.TextField()
    note = models.TextField(blank=True)
    group = models.CharField(
        max_length=60, blank=True, help_text="Rules of one group are one concern (default: the effect)."
    )

    def __str__(self) -> str:
        return f"{self.rule_id} {self.a} x {self.b}"


class DrugAllergyCross(models.Model):
    """A recorded allergen of class `allergen` may cross-react with drugs of `reacts_with`."""

    id = models.BigAutoField(primary_key=True)
    rule_id = models.CharField(max_length=60, unique=True)
    allergen = models.CharField(max_length=60)
    reacts_with = models.CharField(max_length=60)
    severity = models.CharField(max_length=20)
    mechanism = models.TextField()
    management = models.TextField()
    source = models.TextField()

    def __str__(self) -> str:
        return self.rule_id


class DrugMaxDose(models.Model):
    """The usual adult maximum daily amount of a drug by a route."""

    id = models.BigAutoField(primary_key=True)
    rule_id = models.CharField(max_length=80, unique=True)
    drug = models.CharField(max_length=40)
    route = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    source = models.TextField()

    def __str__(self) -> str:
        return self.rule_id


class DrugReproductiveCaution(models.Model):
    """Pregnancy and lactation cautions of a drug or a class."""

    id = models.BigAutoField(primary_key=True)
    subject = models.CharField(max_length=60, unique=True)
    pregnancy = models.CharField(max_length=20, blank=True)
    pregnancy_text = models.TextField(blank=True)
    lactation = models.CharField(max_length=20, blank=True)
    lactation_text = models.TextField(blank=True)
    source = models.TextField()

    def __str__(self) -> str:
        return self.subject


class DrugConditionRule(models.Model):
    """A drug or class to avoid (or use with care) in a condition, named by ICD-10-CM code prefixes."""

    id = models.BigAutoField(primary_key=True)
    rule_id = models.CharField(max_length=80, unique=True)
    subject = models.CharField(max_length=60)
    icd10 = models.JSONField(default=list)
    condition = models.CharField(max_length=200)
    severity = models.CharField(max_length=20)
    mechanism = models.TextField()
    management = models.TextField()
    source = models.TextField()

    def __str__(self) -> str:
        return self.rule_id
