"""The code tables PHB ships (`data/`, see `data/SOURCES.md`) and how each is read into concepts.

Reading is pure: a file in, `Row`s out. `services.code_system_load` writes them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from phb.terminology.coding import DRUGS, ICD10_CM, LOINC, fold
from phb.terminology.drug_data import DrugRelease, read_drug_release, release_sha256
from phb.terminology.models import Content

DATA = Path(__file__).parent / "data"

LOINC_NOTICE = (
    "This material contains content from LOINC (http://loinc.org). LOINC is copyright © 1995-2026, "
    "Regenstrief Institute, Inc. and the Logical Observation Identifiers Names and Codes (LOINC) Committee "
    "and is available at no cost under the license at http://loinc.org/license. LOINC® is a registered "
    "United States trademark of Regenstrief Institute, Inc."
)
ICD10_CM_NOTICE = (
    "ICD-10-CM, April 1, 2026 release, by the CDC National Center for Health Statistics and CMS: "
    "a work of the US Government, in the public domain."
)


@dataclass(frozen=True, slots=True)
class Row:
    code: str
    display: str
    parent_code: str = ""
    level: str = ""
    selectable: bool = True
    heading: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    search_text: str = ""  # what search matches (folded); the folded display when blank


def read_icd10_cm(path: Path) -> list[Row]:
    """The ICD-10-CM table (code, level, billable, description, parent), in tabular-list order.

    The table writes a block that holds a single category of the same code (B20, F99, Z66, ... 39 of
    them) as two identical "block" rows, each its own parent, and loses the category: both rows stand
    for the category here, under the chapter above them, billable when nothing lies below it."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        records = [line.rstrip("\r\n").split("\t") for line in f]  # no quoting in the table
    if records[0] != ["code", "level", "billable", "description", "parent"]:
        raise ValueError(f"{path.name}: unexpected columns {records[0]}")
    records = records[1:]
    has_children = {parent for code, _, _, _, parent in records if parent != code}
    rows: dict[str, Row] = {}
    chapter = ""
    for code, level, billable, description, parent in records:
        if level == "chapter":
            chapter = code
        if parent == code:  # a single-category block (see above)
            if code not in rows:
                rows[code] = Row(code, description, chapter, "category", code not in has_children)
            continue
        if code in rows:
            raise ValueError(f"{path.name}: code {code} twice")
        rows[code] = Row(
            code=code,
            display=description,
            parent_code=parent,
            level=level,
            selectable=billable == "Y",
            heading=level in ("chapter", "block"),
        )
    return list(rows.values())


def read_loinc_subset(path: Path) -> list[Row]:
    """The LOINC codes of the test data, with the display the data gave them (not LOINC's names)."""
    with path.open(encoding="utf-8", newline="") as f:
        records = list(csv.DictReader(f))
    return [
        Row(
            code=r["loinc_code"],
            display=r["display_in_source"],
            level=r["kind"],
            properties={
                key: value for key, value in (("category", r["category"]), ("unit", r["example_ucum_unit"])) if value
            },
        )
        for r in records
    ]


@dataclass(frozen=True)
class Source:
    slug: str
    uri: str
    name: str
    version: str
    content: str
    filename: str
    copyright: str
    reader: Callable[[Path], list[Row]]

    @property
    def path(self) -> Path:
        return DATA / self.filename

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def read(self) -> list[Row]:
        return self.reader(self.path)


SOURCES = {
    s.slug: s
    for s in (
        Source(
            "icd10-cm",
            ICD10_CM,
            "ICD-10-CM",
            "2026",
            Content.COMPLETE,
            "icd10cm-2026-codes.tsv.gz",
            ICD10_CM_NOTICE,
            read_icd10_cm,
        ),
        Source(
            "loinc",
            LOINC,
            "LOINC (subset)",
            "subset",
            Content.FRAGMENT,
            "loinc-common-subset.csv",
            LOINC_NOTICE,
            read_loinc_subset,
        ),
    )
}


# --------------------------------------------------------------------------------------------------
# The drug catalogue: a code system whose release also carries the medication-safety knowledge.
# --------------------------------------------------------------------------------------------------

DRUGS_NOTICE = (
    "PHB drug catalogue and medication-safety knowledge, written by the PHB project from public sources "
    "(FDA prescribing information, the ONC high-priority interaction list, the HL7 PDDI-CDS guide, standard "
    "pharmacology references; each rule names its source), under PHB's licence. This product uses publicly "
    "available data courtesy of the U.S. National Library of Medicine (NLM), National Institutes of Health, "
    "Department of Health and Human Services; NLM is not responsible for the product and does not endorse or "
    "recommend this or any other product."
)


def catalogue_rows(release: DrugRelease) -> list[Row]:
    """The catalogue's generics as concepts: code, name, and the rest as properties; searched by name,
    synonyms and brands ("Augmentin", "acetaminophen", "coartem")."""
    return [
        Row(
            code=drug.code,
            display=drug.name,
            level="combination" if drug.ingredients else "generic",
            properties={
                "synonyms": list(drug.synonyms),
                "brands": list(drug.brands),
                "atc": drug.atc,
                "classes": list(drug.classes),
                "ingredients": list(drug.ingredients),
                "forms": [
                    {"form": f.form, "route": f.route, "strengths": list(f.strengths), "unit": f.unit}
                    for f in drug.forms
                ],
                "controlled": drug.controlled,
                "rxnorm": list(drug.rxnorm),
            },
            search_text=fold(" ".join((drug.name, *drug.synonyms, *drug.brands)))[:600],
        )
        for drug in release.drugs
    ]


@dataclass(frozen=True)
class DrugSource(Source):
    """The drug release: `filename` is its manifest (release.json), which names the other files."""

    @cached_property
    def sha256(self) -> str:
        return release_sha256(self.path)

    @cached_property
    def release(self) -> DrugRelease:
        """Read and validated once per process (KnowledgeInvalid when a file breaks a rule)."""
        return read_drug_release(self.path)

    def read(self) -> list[Row]:
        return catalogue_rows(self.release)


def _drug_version(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8")).get("version", "")


def drug_source(filename: str = "drugs/release.json", slug: str = "drugs", uri: str = DRUGS) -> DrugSource:
    """The drug release at `filename` (relative to `data/`, or absolute) as a source."""
    return DrugSource(
        slug,
        uri,
        "PHB drug catalogue",
        _drug_version(DATA / filename),
        Content.COMPLETE,
        filename,
        DRUGS_NOTICE,
        lambda path: catalogue_rows(read_drug_release(path)),
    )


SOURCES["drugs"] = drug_source()
