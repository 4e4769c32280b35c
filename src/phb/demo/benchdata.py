"""The benchmark data set (`phb bench-data --tier S|M`): a hospital network of two organizations with
their patients, encounters, observations, diagnoses, prescriptions, appointments and audit trail,
generated deterministically (fixed seed) and written with COPY through the migrated schema.

Tiers (per-patient proportions are the same in both; `patients=N` scales a tier to N patients):

    tier  patients  encounters  observations  conditions  medication requests  appointments  audit events
    S        1,000      10,000       100,000       5,000               10,000        10,000        10,000
    M      100,000   1,000,000    10,000,000     500,000            1,000,000     1,000,000     1,000,000

Each patient has 10 encounters, 100 observations (10 per encounter), 5 diagnoses, 10 medication requests
(prescription items, two per prescription), 10 appointments and 10 audit events; one of the N patients
is the "heavy" patient (`HEAVY_PATIENT_ID`, at the first organization): 1,000 encounters and 50,000
observations in tier M (200 and 5,000 in tier S), with diagnoses and prescriptions in proportion to
its encounters (`plan()` gives every count). Patients are registered 90 % at `bench-a`, 10 % at
`bench-b`, every row carries its organization.

Clinical content comes from the Synthea bundles of the shared public data (`data_dir`, default
`$PHB_SHARED_DATA/synthea-r4/bundles` or `../shared/data/...` beside the checkout): the LOINC codes,
units, categories and values of their observations (blood pressure panels split into systolic and
diastolic), the SNOMED CT codes of their conditions and encounter types, and their RxNorm drugs mapped
to PHB's drug catalogue (other catalogue drugs where no code matches). Without the bundles a small
built-in template is used (the report says which). Demographics are `phb.demo.population`'s people.

Fields the application derives are derived the same way: the master patient index's phonetic keys and
search text (`Patient.save()`), the national identifier's blind index (`patients.services`), and every
encrypted column holds a ciphertext of the field's own context made by the field itself (a value
repeated across rows is encrypted once and its ciphertext reused). Ids are UUIDv7-shaped, time-ordered
by the row's own time and derived from a counter, so two runs write the same ids; ciphertexts differ
(random nonces) but decrypt to the same text.

Speed: rows are built as COPY text in batches of patients and streamed. Connected as a superuser (the
bench is), the session runs with `session_replication_role = replica` (no per-row foreign-key
triggers: the generator writes only consistent references); as another role, the session is bound
to all tenants (`phb.all_tenants`) so that the row-level security policy admits each organization's
rows, and the triggers run. One database holds one data set: generating into a database where the
organizations exist is refused.
"""

from __future__ import annotations

import bisect
import datetime as dt
import glob
import json
import math
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

GENERATOR_VERSION = 1
SEED = 20261210
ORGANIZATION_CODES = ("bench-a", "bench-b")  # 90 % / 10 % of patients
NAMESPACE = uuid.UUID("0b7f6c1e-3d2a-4c59-9e61-5a0f2d8b7c34")
HEAVY_PATIENT_ID = uuid.uuid5(NAMESPACE, "heavy-patient")
# The generated record's "today": every date is relative to it, so that two runs agree.
ANCHOR = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
HISTORY_YEARS = 7  # encounters and observations over the years before ANCHOR
AUDIT_MONTHS = 24  # audit events over the months before ANCHOR
APPOINTMENT_WEEKS_BEFORE, APPOINTMENT_WEEKS_AFTER = 78, 26
SLOTS_PER_DAY, SLOT_MINUTES, DAY_STARTS = 32, 15, dt.time(8, 0)
PATIENTS_PER_DOCTOR = 500
BATCH = 500  # patients per COPY round
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
DRUGS = "https://phb.health/fhir/CodeSystem/drugs"
CLINICAL_DEPARTMENTS = ("outpatients", "internal-medicine", "cardiology", "paediatrics", "surgery")


@dataclass(frozen=True)
class Tier:
    name: str
    patients: int
    heavy_encounters: int
    heavy_observations: int
    encounters: int = 10  # per patient
    observations: int = 100
    conditions: int = 5
    medication_requests: int = 10
    appointments: int = 10
    audit_events: int = 10
    items_per_prescription: int = 2


TIERS = {
    "S": Tier("S", 1_000, heavy_encounters=200, heavy_observations=5_000),
    "M": Tier("M", 100_000, heavy_encounters=1_000, heavy_observations=50_000),
}
MIN_PATIENTS = 10  # so that both organizations have patients


class BenchDataError(ValueError):
    """Bad arguments, or a database that already holds a data set."""


def tier_of(tier: str, patients: int | None = None) -> tuple[Tier, int]:
    spec = TIERS.get(str(tier).upper())
    if spec is None:
        raise BenchDataError(f"unknown tier {tier!r}: one of {', '.join(TIERS)}")
    count = spec.patients if patients is None else patients
    if not isinstance(count, int) or count < MIN_PATIENTS:
        raise BenchDataError(f"--patients must be a whole number of at least {MIN_PATIENTS} (got {patients!r})")
    return spec, count


def heavy_multiple(spec: Tier) -> int:
    """How many ordinary patients' worth of diagnoses and prescriptions the heavy patient has."""
    return max(1, spec.heavy_encounters // spec.encounters)


def plan(tier: str = "M", *, patients: int | None = None) -> dict[str, int]:
    """The number of rows of each kind a generation writes (appointment histories vary: not here)."""
    spec, n = tier_of(tier, patients)
    k = heavy_multiple(spec)
    items_heavy = spec.medication_requests * k
    per = spec.items_per_prescription
    return {
        "patients": n,
        "organizations": len(ORGANIZATION_CODES),
        "registrations": n,
        "encounters": (n - 1) * spec.encounters + spec.heavy_encounters,
        "observations": (n - 1) * spec.observations + spec.heavy_observations,
        "conditions": (n - 1) * spec.conditions + spec.conditions * k,
        "medication_requests": (n - 1) * spec.medication_requests + items_heavy,
        "prescriptions": (n - 1) * -(-spec.medication_requests // per) + -(-items_heavy // per),
        "appointments": n * spec.appointments,
        "audit_events": n * spec.audit_events,
        "practitioners": sum(doctors_at(organization_share(n)[i]) for i in range(len(ORGANIZATION_CODES))),
    }


def organization_of(key: int) -> int:
    """0 (`bench-a`) for 9 patients in 10, 1 (`bench-b`) for the 10th; the heavy patient (key 0) is at A."""
    return 1 if key % 10 == 9 else 0


def organization_share(n: int) -> list[int]:
    b = sum(1 for key in range(9, n, 10))
    return [n - b, b]


def doctors_at(patients: int) -> int:
    return max(2, math.ceil(patients / PATIENTS_PER_DOCTOR))


def patient_id(key: int) -> uuid.UUID:
    return HEAVY_PATIENT_ID if key == 0 else uuid.uuid5(NAMESPACE, f"patient:{key}")


def default_data_dir() -> Path | None:
    """The Synthea bundles: $PHB_SHARED_DATA/synthea-r4/bundles, else ../shared/data beside the checkout."""
    candidates = []
    if os.environ.get("PHB_SHARED_DATA"):
        candidates.append(Path(os.environ["PHB_SHARED_DATA"]) / "synthea-r4" / "bundles")
    here = Path(__file__).resolve()
    candidates += [parent / "shared" / "data" / "synthea-r4" / "bundles" for parent in here.parents[3:5]]
    return next((c for c in candidates if c.is_dir()), None)


# --------------------------------------------------------------------------------------------------
# Clinical templates from the Synthea bundles
# --------------------------------------------------------------------------------------------------

OBSERVATION_CATEGORIES = {
    "vital-signs", "laboratory", "survey", "social-history", "exam", "procedure", "imaging", "therapy", "activity",
}  # fmt: skip


@dataclass
class ObservationKind:
    code: str
    display: str
    category: str
    unit: str
    numeric: list[str]  # values as COPY text
    coded: list[tuple[str, str, str]]  # (system, code, display)
    count: int = 0


@dataclass
class Templates:
    source: str
    panel: list[ObservationKind]  # vital signs taken at every encounter, heart rate first
    others: list[ObservationKind]
    others_cumulative: list[int]
    encounter_types: list[tuple[str, str, str, str, str, int]]  # class, code, display, reason code, reason, minutes
    conditions: list[tuple[str, str, bool]]  # code, display, chronic
    conditions_cumulative: list[int]
    drug_codes: list[str]  # catalogue codes, repeated by frequency of use


BUILTIN_OBSERVATIONS = [
    ("8867-4", "Heart rate", "vital-signs", "/min", 76, 12, 0),
    ("9279-1", "Respiratory rate", "vital-signs", "/min", 16, 3, 0),
    ("8480-6", "Systolic blood pressure", "vital-signs", "mm[Hg]", 124, 14, 0),
    ("8462-4", "Diastolic blood pressure", "vital-signs", "mm[Hg]", 80, 8, 0),
    ("29463-7", "Body weight", "vital-signs", "kg", 70, 14, 1),
    ("8302-2", "Body height", "vital-signs", "cm", 165, 10, 1),
    ("8310-5", "Body temperature", "vital-signs", "Cel", 36.8, 0.4, 1),
    ("2339-0", "Glucose [Mass/volume] in Blood", "laboratory", "mg/dL", 95, 15, 1),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 185, 30, 1),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "laboratory", "g/dL", 13.5, 1.5, 1),
    ("38483-4", "Creatinine [Mass/volume] in Blood", "laboratory", "mg/dL", 1.0, 0.2, 2),
]
BUILTIN_CONDITIONS = [
    ("38341003", "Hypertensive disorder, systemic arterial (disorder)", True),
    ("44054006", "Diabetes mellitus type 2 (disorder)", True),
    ("195662009", "Acute viral pharyngitis (disorder)", False),
    ("444814009", "Viral sinusitis (disorder)", False),
    ("10509002", "Acute bronchitis (disorder)", False),
    ("61582004", "Allergic rhinitis (disorder)", True),
]
BUILTIN_ENCOUNTERS = [
    ("AMB", "185349003", "Encounter for check up (procedure)", "", "", 30),
    ("AMB", "185345009", "Encounter for symptom", "", "", 20),
    ("AMB", "390906007", "Follow-up encounter", "", "", 20),
]
BUILTIN_DRUGS = ["paracetamol", "amlodipine", "metformin", "amoxicillin", "ibuprofen", "omeprazole"]


def _decimal_text(value: float) -> str | None:
    if not math.isfinite(value) or abs(value) >= 1e7:
        return None
    return f"{value:.3f}"


def load_templates(data_dir: Path | None) -> Templates:
    """Observation, condition, encounter and drug templates from the bundles in `data_dir` (sorted, so
    deterministic), or the built-in ones when there are none."""
    files = sorted(glob.glob(str(data_dir / "*.json"))) if data_dir else []
    drugs_by_rxnorm, catalogue = _catalogue()
    if not files:
        return _builtin_templates(catalogue)
    kinds: dict[str, ObservationKind] = {}
    encounters: Counter[tuple[str, str, str, str, str, int]] = Counter()
    conditions: Counter[tuple[str, str]] = Counter()
    chronic: dict[str, bool] = {}
    drugs: Counter[str] = Counter()

    def add(code: str, display: str, category: str, value: dict[str, Any] | None, concept: dict | None) -> None:
        if category not in OBSERVATION_CATEGORIES or not code or len(code) > 20:
            return
        kind = kinds.get(code)
        if kind is None:
            kind = kinds[code] = ObservationKind(code, display[:500], category, "", [], [])
        kind.count += 1
        if value is not None and isinstance(value.get("value"), (int, float)):
            text = _decimal_text(float(value["value"]))
            if text is not None and len(kind.numeric) < 400:
                kind.numeric.append(text)
                kind.unit = kind.unit or str(value.get("code") or value.get("unit") or "")[:40]
        elif concept and concept.get("coding"):
            c = concept["coding"][0]
            if len(kind.coded) < 100 and len(str(c.get("code", ""))) <= 40:
                kind.coded.append((str(c.get("system", "")), str(c.get("code", "")), str(c.get("display", ""))[:500]))

    for path in files:
        with open(path, encoding="utf-8") as f:
            bundle = json.load(f)
        for entry in bundle.get("entry", []):
            r = entry.get("resource", {})
            kind = r.get("resourceType")
            if kind == "Observation":
                coding = (r.get("code", {}).get("coding") or [{}])[0]
                category = ((r.get("category") or [{}])[0].get("coding") or [{}])[0].get("code", "")
                if coding.get("system") != LOINC:
                    continue
                if r.get("component"):
                    for component in r["component"]:
                        cc = (component.get("code", {}).get("coding") or [{}])[0]
                        if cc.get("system") == LOINC:
                            add(
                                cc.get("code", ""), cc.get("display", ""), category,
                                component.get("valueQuantity"), component.get("valueCodeableConcept"),
                            )  # fmt: skip
                    continue
                add(
                    coding.get("code", ""), coding.get("display", ""), category,
                    r.get("valueQuantity"), r.get("valueCodeableConcept"),
                )  # fmt: skip
            elif kind == "Encounter":
                type_coding = ((r.get("type") or [{}])[0].get("coding") or [{}])[0]
                reason = ((r.get("reasonCode") or [{}])[0].get("coding") or [{}])[0]
                minutes = 30
                period = r.get("period", {})
                try:
                    start = dt.datetime.fromisoformat(period["start"])
                    minutes = int((dt.datetime.fromisoformat(period["end"]) - start).total_seconds() // 60)
                except (KeyError, ValueError):
                    pass
                klass = r.get("class", {}).get("code", "AMB")
                encounters[
                    (
                        klass if klass in ("AMB", "EMER", "IMP", "VR") else "AMB",
                        str(type_coding.get("code", ""))[:40], str(type_coding.get("display", ""))[:500],
                        str(reason.get("code", ""))[:40], str(reason.get("display", ""))[:500],
                        max(10, min(minutes, 24 * 60)),
                    )
                ] += 1  # fmt: skip
            elif kind == "Condition":
                c = (r.get("code", {}).get("coding") or [{}])[0]
                if c.get("code") and len(str(c["code"])) <= 40:
                    conditions[(str(c["code"]), str(c.get("display", ""))[:500])] += 1
                    chronic[str(c["code"])] = chronic.get(str(c["code"]), True) and "abatementDateTime" not in r
            elif kind == "MedicationRequest":
                for c in r.get("medicationCodeableConcept", {}).get("coding", []):
                    code = drugs_by_rxnorm.get(str(c.get("code", "")))
                    if code:
                        drugs[code] += 1
    usable = [k for k in kinds.values() if k.numeric or k.coded]
    panel_codes = [k.code for k in sorted(usable, key=lambda k: (-k.count, k.code)) if k.category == "vital-signs"]
    panel_codes = [c for c in panel_codes if c != "8867-4" and kinds[c].numeric][:6]
    if "8867-4" in kinds and kinds["8867-4"].numeric:
        panel_codes.insert(0, "8867-4")
    else:  # heart rate must be there (the FHIR benchmarks search for it)
        kinds["8867-4"] = _builtin_kind(BUILTIN_OBSERVATIONS[0], random.Random(SEED))
        panel_codes.insert(0, "8867-4")
    panel = [kinds[c] for c in panel_codes]
    others = sorted((k for k in usable if k.code not in panel_codes), key=lambda k: (-k.count, k.code))
    encounter_types = [e for e, _ in sorted(encounters.items(), key=lambda item: (-item[1], item[0]))][:60]
    condition_list = sorted(conditions.items(), key=lambda item: (-item[1], item[0]))[:120]
    drug_codes = [code for code, n in sorted(drugs.items()) for _ in range(n)] or [
        d for d in BUILTIN_DRUGS if d in catalogue
    ]
    return Templates(
        source=f"synthea ({len(files)} bundles)",
        panel=panel,
        others=others,
        others_cumulative=_cumulative(k.count for k in others),
        encounter_types=encounter_types or BUILTIN_ENCOUNTERS,
        conditions=[(code, display, chronic[code]) for (code, display), _ in condition_list],
        conditions_cumulative=_cumulative(n for _, n in condition_list),
        drug_codes=drug_codes,
    )


def _cumulative(weights: Iterable[int]) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


def _builtin_kind(spec: tuple, rng: random.Random) -> ObservationKind:
    code, display, category, unit, mean, spread, decimals = spec
    values = [f"{round(rng.gauss(mean, spread), decimals):.3f}" for _ in range(200)]
    return ObservationKind(code, display, category, unit, values, [], 1)


def _builtin_templates(catalogue: dict[str, Any]) -> Templates:
    rng = random.Random(SEED)
    kinds = [_builtin_kind(spec, rng) for spec in BUILTIN_OBSERVATIONS]
    panel = [k for k in kinds if k.category == "vital-signs"]
    others = [k for k in kinds if k.category != "vital-signs"]
    return Templates(
        source="built-in",
        panel=panel,
        others=others,
        others_cumulative=_cumulative(1 for _ in others),
        encounter_types=BUILTIN_ENCOUNTERS,
        conditions=BUILTIN_CONDITIONS,
        conditions_cumulative=_cumulative(1 for _ in BUILTIN_CONDITIONS),
        drug_codes=[d for d in BUILTIN_DRUGS if d in catalogue] or sorted(catalogue)[:10],
    )


def _catalogue() -> tuple[dict[str, str], dict[str, Any]]:
    """(RxCUI -> catalogue code, catalogue code -> drug) of the drugs PHB ships that have a form."""
    from phb.terminology.sources import SOURCES

    drugs = {d.code: d for d in SOURCES["drugs"].release.drugs if d.forms and d.active}
    by_rxnorm = {rxcui: d.code for d in drugs.values() for rxcui in d.rxnorm}
    return by_rxnorm, drugs


# --------------------------------------------------------------------------------------------------
# COPY text
# --------------------------------------------------------------------------------------------------

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    """`value` (as a field prepares it for the database) in COPY's text format."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if hasattr(value, "obj"):  # psycopg's Jsonb, from a JSONField
        return json.dumps(value.obj, separators=(",", ":"), sort_keys=True).translate(_ESCAPES)
    return str(value).translate(_ESCAPES)


def esc(value: str) -> str:
    return value.translate(_ESCAPES)


class Table:
    """COPY of one model's table: the columns a row gives (in order), then every other concrete column
    at its default as the field prepares it (an encrypted default encrypted once)."""

    def __init__(self, model: Any, given: Iterable[str]) -> None:
        from django.db import connection, models

        self.model, self.name = model, model._meta.db_table
        self.given = list(given)
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = [c for c in self.given if c not in fields]
        if unknown:
            raise RuntimeError(f"{self.name} has no column {', '.join(unknown)}")
        constants = []
        for column, field in fields.items():
            if column in self.given:
                continue
            if field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            elif field.blank and isinstance(field, models.CharField | models.TextField):
                value = ""
            else:
                raise RuntimeError(f"{self.name}.{column} has no default: the generator must give it")
            constants.append((column, _text(field.get_db_prep_save(value, connection))))
        self.columns = self.given + [c for c, _ in constants]
        self.suffix = "".join("\t" + v for _, v in constants) + "\n"
        self.quoted_columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        self.quoted_name = connection.ops.quote_name(self.name)
        self.staging = connection.ops.quote_name(f"bench_staging_{self.name}")
        self.sql = f"COPY {self.quoted_name} ({self.quoted_columns}) FROM STDIN"
        self.rows: list[str] = []
        self.written = 0

    def add(self, *values: str) -> None:
        self.rows.append("\t".join(values) + self.suffix)

    def flush(self, cursor: Any, *, staged: bool = False) -> None:
        """Write the rows held. `staged`: through a temporary table and INSERT ... SELECT, for a role
        under row-level security (PostgreSQL refuses COPY FROM into a table with a policy)."""
        if not self.rows:
            return
        sql = self.sql
        if staged:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.staging} (LIKE {self.quoted_name}) ON COMMIT DROP"
            )
            sql = sql.replace(f"COPY {self.quoted_name} ", f"COPY {self.staging} ", 1)
        with cursor.copy(sql) as copy:
            for start in range(0, len(self.rows), 5000):
                copy.write("".join(self.rows[start : start + 5000]))
        if staged:
            insert = f"INSERT INTO {self.quoted_name} ({self.quoted_columns}) SELECT {self.quoted_columns} FROM "  # noqa: S608 (our own quoted names)
            cursor.execute(f"{insert}{self.staging}; TRUNCATE {self.staging}")
        self.written += len(self.rows)
        self.rows = []


class Sealed:
    """Ciphertexts of one encrypted column, one per distinct value (made by the field itself)."""

    def __init__(self, model: Any, field: str) -> None:
        self.field = model._meta.get_field(field)
        self.cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        found = self.cache.get(value)
        if found is None:
            found = self.cache[value] = esc(self.field.get_prep_value(value))
        return found


class Ids:
    """UUIDv7-shaped ids: the row's time in milliseconds, then a counter scrambled by an odd multiplier
    (a bijection modulo 2^62): time-ordered, distinct, and the same in every run."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, seconds: float) -> str:
        self.n += 1
        rand = (self.n * 0x9E3779B97F4A7C15) & ((1 << 62) - 1)
        ms = int(seconds * 1000) & ((1 << 48) - 1)
        return f"{ms << 80 | 0x7 << 76 | 0b10 << 62 | rand:032x}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


_DAYS: dict[int, str] = {}


def ts(seconds: float) -> str:
    """`seconds` since the epoch as a UTC timestamp in COPY text, to the millisecond."""
    ms = int(seconds * 1000)
    day, ms = divmod(ms, 86_400_000)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = (_EPOCH + dt.timedelta(days=day)).date().isoformat()
    minutes, ms = divmod(ms, 60_000)
    return f"{date} {minutes // 60:02d}:{minutes % 60:02d}:{ms // 1000:02d}.{ms % 1000:03d}+00"


# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------


@dataclass
class _Org:
    id: uuid.UUID
    code: str
    zone: ZoneInfo
    department_ids: dict[str, uuid.UUID]
    doctors: list[tuple[uuid.UUID, uuid.UUID, str]]  # (user id, practitioner profile id, department code)
    patients: list[uuid.UUID]
    mrn: int = 0


def generate(
    tier: str = "M",
    *,
    patients: int | None = None,
    data_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the data set into the configured database (Django's `default`) and return the report:
    seconds, template source, expected counts, database size and each table's rows and bytes."""
    from django.db import connection, transaction

    spec, n = tier_of(tier, patients)
    say = progress or (lambda message: None)
    started = time.perf_counter()
    if connection.vendor != "postgresql":
        raise BenchDataError("the benchmark data set needs PostgreSQL")
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if data_dir is not None and not Path(data_dir).is_dir():
        raise BenchDataError(f"no such directory: {data_dir}")
    templates = load_templates(data_dir)
    say(f"templates: {templates.source}")
    from phb.demo import population

    people = population.people(n, seed=SEED, today=ANCHOR.date())
    say(f"{n:,} people generated ({time.perf_counter() - started:.1f} s)")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = bool(cursor.fetchone()[0])
        if superuser:
            cursor.execute("SET LOCAL session_replication_role = replica")
        _audit_partitions(connection)
        orgs = _ensure_staff(n)
        # After the ORM's own scoped writes: the COPYs below write both organizations' rows.
        cursor.execute("SELECT set_config('phb.all_tenants', 'on', true), set_config('phb.organization_id', '', true)")
        writer = _Writer(spec, n, templates, people, orgs, cursor, say)
        writer.staged = not superuser
        dropped = _drop_indexes(cursor, writer.bulk_tables()) if superuser else []
        writer.patients_and_records()
        writer.appointments()
        writer.counters()
        if dropped:
            began = time.perf_counter()
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for statement in dropped:
                cursor.execute(statement)
            say(f"{len(dropped)} indexes built in {time.perf_counter() - began:.1f} s")
    tables = _analyze_and_measure()
    seconds = time.perf_counter() - started
    report = {
        "tier": spec.name,
        "patients": n,
        "generator_version": GENERATOR_VERSION,
        "templates": templates.source,
        "seconds": round(seconds, 1),
        "expected": plan(spec.name, patients=n),
        **tables,
    }
    return report


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"tier {report['tier']}: {report['patients']:,} patients in {report['seconds']:.1f} s "
        f"(templates: {report['templates']}); database {report['database_bytes'] / 2**20:,.0f} MiB",
        f"  {'table':<40} {'rows':>12} {'MiB':>9}",
    ]
    for name, row in report["tables"].items():
        lines.append(f"  {name:<40} {row['rows']:>12,} {row['bytes'] / 2**20:>9,.1f}")
    return "\n".join(lines)


def _ensure_staff(n: int) -> list[_Org]:
    """The two organizations, their departments, doctors (users, memberships, practitioner profiles,
    weekly availability). Refuses a database that already has them."""
    from phb.accounts.models import Membership, User
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization, OrganizationType
    from phb.organizations.models import Department, DepartmentKind
    from phb.workforce.models import PractitionerProfile, WeeklyAvailability

    system = Ctx.system(reason="benchmark data set")
    organizations = Organization.objects.for_platform(system)
    if organizations.filter(code__in=ORGANIZATION_CODES).exists():
        raise BenchDataError("this database already holds a benchmark data set: generate into a fresh database")
    shares = organization_share(n)
    out = []
    for index, code in enumerate(ORGANIZATION_CODES):
        org = organizations.create(
            id=uuid.uuid5(NAMESPACE, f"organization:{code}"),
            name=f"Bench {'ABCDEFGH'[index]} Hospital",
            kind=OrganizationType.HOSPITAL,
            code=code,
            registration_number=f"HSP-BENCH00{index}",
            city=("Lagos", "Ibadan")[index],
            state=("Lagos", "Oyo")[index],
        )
        departments = Department.objects.for_system(system).bulk_create(
            [
                Department(
                    id=uuid.uuid5(NAMESPACE, f"department:{code}:{kind.value}"),
                    organization_id=org.id,
                    name=kind.label,
                    kind=kind.value,
                    code=kind.value.replace("_", "-"),
                )
                for kind in DepartmentKind
                if kind != DepartmentKind.OTHER
            ]
        )
        department_ids = {d.code: d.id for d in departments}
        count = doctors_at(shares[index])
        users = []
        for i in range(count):
            user = User(
                id=uuid.uuid5(NAMESPACE, f"doctor:{code}:{i}"),
                email=f"doctor-{i:04d}@{code}.bench.phb.example",
                full_name=f"Dr Bench {code[-1].upper()}{i:04d}",
            )
            user.set_unusable_password()
            users.append(user)
        User.objects.bulk_create(users)
        memberships = Membership.objects.for_system(system).bulk_create(
            [
                Membership(
                    id=uuid.uuid5(NAMESPACE, f"membership:{code}:{i}"),
                    organization_id=org.id,
                    user_id=u.id,
                    roles=["doctor"],
                    department_id=department_ids[CLINICAL_DEPARTMENTS[i % len(CLINICAL_DEPARTMENTS)]],
                )
                for i, u in enumerate(users)
            ]
        )
        profiles = PractitionerProfile.objects.for_system(system).bulk_create(
            [
                PractitionerProfile(
                    id=uuid.uuid5(NAMESPACE, f"practitioner:{code}:{i}"),
                    organization_id=org.id,
                    membership_id=m.id,
                    user_id=m.user_id,
                    department_id=m.department_id,
                    specialization=CLINICAL_DEPARTMENTS[i % len(CLINICAL_DEPARTMENTS)],
                    licence_number=f"MDCN-BENCH-{index}{i:05d}",
                    consultation_fee=Decimal("5000.00"),
                    languages=["en"],
                )
                for i, m in enumerate(memberships)
            ]
        )
        WeeklyAvailability.objects.for_system(system).bulk_create(
            [
                WeeklyAvailability(
                    organization_id=org.id,
                    practitioner_id=p.id,
                    weekday=weekday,
                    starts_at=DAY_STARTS,
                    ends_at=dt.time(16, 0),
                    slot_minutes=SLOT_MINUTES,
                    max_daily_appointments=SLOTS_PER_DAY,
                )
                for p in profiles
                for weekday in range(5)
            ]
        )
        out.append(
            _Org(
                id=org.id,
                code=code,
                zone=ZoneInfo(org.timezone),
                department_ids=department_ids,
                doctors=[
                    (u.id, p.id, CLINICAL_DEPARTMENTS[i % len(CLINICAL_DEPARTMENTS)])
                    for i, (u, p) in enumerate(zip(users, profiles, strict=True))
                ],
                patients=[],
            )
        )
    return out


class _Writer:
    def __init__(self, spec: Tier, n: int, templates: Templates, people: list[Any], orgs: list[_Org], cursor, say):
        from phb.clinical.models import Diagnosis, Encounter, Observation
        from phb.kernel.models import AuditEvent
        from phb.medications.models import Prescription, PrescriptionItem
        from phb.patients.models import Patient, PatientRegistration
        from phb.scheduling.models import Appointment, AppointmentTransition

        self.spec, self.n, self.t, self.people, self.orgs = spec, n, templates, people, orgs
        self.cursor, self.say = cursor, say
        self.ids = Ids()
        self.by_rxnorm, self.catalogue = _catalogue()
        self.rx_numbers: Counter[tuple[int, int]] = Counter()  # (organization, year) -> last number
        self.hpns: set[str] = set()
        from phb.patients.models import Patient as P

        self.hpns.update(P.objects.values_list("hpn", flat=True))
        base = ("id", "created_at", "updated_at")
        self.patient = Table(
            Patient,
            (
                *base, "hpn", "given_name", "family_name", "other_names", "birth_date", "sex", "phone", "state",
                "city", "address_line", "marital_status", "occupation", "nin", "nin_index", "given_key",
                "family_key", "search_name",
            ),
        )  # fmt: skip
        self.registration = Table(
            PatientRegistration,
            (*base, "organization_id", "patient_id", "mrn", "status", "is_primary", "decided_at"),
        )
        self.encounter = Table(
            Encounter,
            (
                *base, "organization_id", "patient_id", "encounter_class", "source", "status", "attending_id",
                "department_id", "reason", "reason_system", "reason_code", "type_system", "type_code",
                "type_display", "started_at", "ended_at", "created_by_id",
            ),
        )  # fmt: skip
        self.observation = Table(
            Observation,
            (
                *base, "organization_id", "patient_id", "encounter_id", "recorded_by_id", "effective_at",
                "category", "code", "code_display", "unit", "value_numeric", "value_system", "value_code",
                "value_display",
            ),
        )  # fmt: skip
        self.diagnosis = Table(
            Diagnosis,
            (
                *base, "organization_id", "patient_id", "encounter_id", "diagnosed_by_id", "recorded_at", "system",
                "code", "display", "clinical_status", "category", "onset_date", "abatement_date",
            ),
        )  # fmt: skip
        self.prescription = Table(
            Prescription,
            (
                *base, "organization_id", "patient_id", "encounter_id", "author_id", "prescriber_id", "number",
                "status", "signed_at", "expires_at", "expired_at",
            ),
        )  # fmt: skip
        self.item = Table(
            PrescriptionItem,
            (
                *base, "organization_id", "patient_id", "prescription_id", "position", "drug_system", "drug_code",
                "drug_display", "form", "strength", "dose_quantity", "dose_unit", "route", "frequency",
                "duration_days", "quantity", "quantity_unit", "quantity_dispensed", "instructions", "starts_at",
                "ends_at",
            ),
        )  # fmt: skip
        self.audit = Table(
            AuditEvent,
            (
                "id", "occurred_at", "actor_id", "actor_kind", "roles", "organization_id", "patient_id", "action",
                "resource_type", "resource_id", "outcome", "purpose_of_use", "ip", "user_agent", "request_id",
            ),
        )  # fmt: skip
        self.appointment = Table(
            Appointment,
            (
                *base, "organization_id", "reference", "patient_id", "practitioner_id", "department_id",
                "specialization", "start_at", "end_at", "priority", "status", "chief_complaint", "fee",
                "booked_by_id",
            ),
        )  # fmt: skip
        self.transition = Table(
            AppointmentTransition,
            (*base, "organization_id", "appointment_id", "from_status", "to_status", "at", "reason"),
        )
        self.sealed_nin = Sealed(Patient, "nin")
        self.sealed_reason = Sealed(Encounter, "reason")
        self.sealed_instructions = Sealed(PrescriptionItem, "instructions")
        self.sealed_complaint = Sealed(Appointment, "chief_complaint")
        self.prescription_days = _prescription_valid_days()

    def bulk_tables(self) -> list[str]:
        return [
            t.name
            for t in (
                self.encounter,
                self.observation,
                self.diagnosis,
                self.prescription,
                self.item,
                self.appointment,
                self.transition,
                self.registration,
            )
        ]

    # -- patients and their records ------------------------------------------------------------------
    def patients_and_records(self) -> None:
        started = time.perf_counter()
        # Items before their prescriptions: a trigger refuses an item added to a signed prescription
        # (the references are checked at commit).
        tables = (
            self.patient, self.registration, self.encounter, self.observation, self.diagnosis,
            self.item, self.prescription, self.audit,
        )  # fmt: skip
        for start in range(0, self.n, BATCH):
            for person in self.people[start : start + BATCH]:
                self._patient(person)
            for table in tables:
                table.flush(self.cursor, staged=self.staged)
            done = min(self.n, start + BATCH)
            if done == self.n or (done // BATCH) % 20 == 0:
                rate = self.observation.written / max(time.perf_counter() - started, 1e-9)
                self.say(f"{done:,}/{self.n:,} patients, {self.observation.written:,} observations ({rate:,.0f}/s)")

    def _hpn(self, rng: random.Random) -> str:
        from phb.patients.hpn import luhn_digit

        while True:
            body = str(rng.randint(1, 9)) + f"{rng.randrange(10**9):09d}"
            number = body + luhn_digit(body)
            if number not in self.hpns:
                self.hpns.add(number)
                return number

    def _patient(self, person: Any) -> None:
        from phb.kernel import crypto
        from phb.patients import matching

        key = person.key
        rng = random.Random(f"{SEED}:{key}")
        org_index = organization_of(key)
        org = self.orgs[org_index]
        pid = str(patient_id(key))
        heavy = key == 0
        spec = self.spec
        n_enc = spec.heavy_encounters if heavy else spec.encounters
        n_obs = spec.heavy_observations if heavy else spec.observations
        k = heavy_multiple(spec) if heavy else 1
        span_start = ANCHOR.timestamp() - HISTORY_YEARS * 365.25 * 86400
        birth = person.birth_date
        if heavy and (birth is None or birth > dt.date(1990, 1, 1)):
            birth = dt.date(1961, 4, 12)
        born = dt.datetime.combine(birth, dt.time(12), tzinfo=dt.UTC).timestamp() if birth else span_start
        last = ANCHOR.timestamp() - 86400
        first = min(max(span_start, born + 86400), last - 86400)
        registered = max(born, first - rng.uniform(86400, 90 * 86400))
        doctor_user, _, department_code = org.doctors[key % len(org.doctors)]
        doctor, department = str(doctor_user), str(org.department_ids[department_code])
        oid = str(org.id)
        org.patients.append(patient_id(key))
        org.mrn += 1
        nin = f"{rng.randrange(10**10, 10**11)}" if rng.random() < 0.7 else ""

        given, family, other = person.given_name, person.family_name, person.other_names
        self.patient.add(
            pid, ts(registered), ts(registered), self._hpn(rng), esc(given), esc(family), esc(other),
            birth.isoformat() if birth else NULL, person.sex, esc(person.phone), esc(person.state),
            esc(person.city), esc(person.address_line), person.marital_status, esc(person.occupation),
            esc(crypto.encrypt(nin, context=self.sealed_nin.field.crypto_context)) if nin else NULL,
            crypto.blind_index(nin, purpose="patients.nin") if nin else NULL,
            esc(matching.phonetic_key(given)[:60]), esc(matching.phonetic_key(family)[:60]),
            esc(matching.search_text(given, family, other)[:400]),
        )  # fmt: skip
        self.registration.add(
            self.ids(registered), ts(registered), ts(registered), oid, pid, f"{org.mrn:08d}", "approved", "t",
            ts(registered),
        )  # fmt: skip

        # Encounters, spread over the years, sorted; each with its share of the observations.
        times = sorted(rng.uniform(first, last) for _ in range(n_enc))
        encounters = []
        types = self.t.encounter_types
        for at in times:
            klass, type_code, type_display, reason_code, reason_display, minutes = types[
                min(int(rng.paretovariate(1.2)) - 1, len(types) - 1)
            ]
            eid = self.ids(at)
            encounters.append((eid, at))
            self.encounter.add(
                eid, ts(at), ts(at + minutes * 60), oid, pid, klass, "walk_in", "finished", doctor, department,
                self.sealed_reason(reason_display or type_display), SNOMED if reason_code else "", reason_code,
                SNOMED if type_code else "", type_code, esc(type_display), ts(at), ts(at + minutes * 60), doctor,
            )  # fmt: skip
        panel, others, cumulative = self.t.panel, self.t.others, self.t.others_cumulative
        total = cumulative[-1] if cumulative else 0
        for j, (eid, at) in enumerate(encounters):
            count = (j + 1) * n_obs // n_enc - j * n_obs // n_enc
            for i in range(count):
                if i < len(panel) or not others:
                    kind = panel[i % len(panel)]
                else:
                    kind = others[bisect.bisect_right(cumulative, rng.random() * total - 1e-9)]
                effective = at + 300 + i * 30
                if kind.numeric and (not kind.coded or rng.random() < 0.9):
                    value, system, code, display = kind.numeric[int(rng.random() * len(kind.numeric))], "", "", ""
                else:
                    value = NULL
                    system, code, display = kind.coded[int(rng.random() * len(kind.coded))]
                self.observation.add(
                    self.ids(effective), ts(effective), ts(effective), oid, pid, eid, doctor, ts(effective),
                    kind.category, kind.code, esc(kind.display), esc(kind.unit) if value != NULL else "", value,
                    esc(system), esc(code), esc(display),
                )  # fmt: skip

        # Diagnoses: up to two chronic problems on the problem list, the rest encounter diagnoses.
        conditions, ccum = self.t.conditions, self.t.conditions_cumulative
        problems: set[str] = set()
        n_cond = spec.conditions * k
        for j in range(n_cond):
            eid, at = encounters[j * len(encounters) // n_cond]
            code, display, chronic = conditions[bisect.bisect_right(ccum, rng.random() * ccum[-1] - 1e-9)]
            onset = dt.datetime.fromtimestamp(at, dt.UTC).date()
            if chronic and len(problems) < 2 and code not in problems:
                problems.add(code)
                status, category, abatement = "active", "problem_list_item", NULL
            else:
                status, category = "resolved", "encounter_diagnosis"
                abatement = (onset + dt.timedelta(days=rng.randint(5, 40))).isoformat()
            self.diagnosis.add(
                self.ids(at), ts(at), ts(at), oid, pid, eid, doctor, ts(at), SNOMED, code, esc(display), status,
                category, onset.isoformat(), abatement,
            )  # fmt: skip

        # Prescriptions (two items each): the medication requests.
        n_items = spec.medication_requests * k
        per = spec.items_per_prescription
        for p in range(-(-n_items // per)):
            eid, at = encounters[p * len(encounters) // -(-n_items // per)]
            signed = at + 900
            year = dt.datetime.fromtimestamp(signed, dt.UTC).year
            self.rx_numbers[(org_index, year)] += 1
            expires = signed + self.prescription_days * 86400
            done = expires < ANCHOR.timestamp()
            status = ("dispensed" if rng.random() < 0.85 else "expired") if done else "signed"
            rx = self.ids(signed)
            self.prescription.add(
                rx, ts(signed), ts(signed), oid, pid, eid, doctor, doctor,
                f"RX-{year}-{self.rx_numbers[(org_index, year)]:06d}", status, ts(signed), ts(expires),
                ts(expires) if status == "expired" else NULL,
            )  # fmt: skip
            for position in range(min(per, n_items - p * per)):
                drug = self.catalogue[self.t.drug_codes[int(rng.random() * len(self.t.drug_codes))]]
                form = drug.forms[0]
                times_a_day = rng.choice((1, 2, 3))
                days = rng.choice((5, 7, 14, 28, 30))
                quantity = times_a_day * days
                self.item.add(
                    self.ids(signed), ts(signed), ts(signed), oid, pid, rx, str(position), DRUGS, drug.code,
                    esc(drug.name), esc(form.form[:60]), esc(form.strengths[0][:60] if form.strengths else ""),
                    "1.000", esc(form.unit[:30]), esc(form.route[:40]), ("OD", "BD", "TDS")[times_a_day - 1],
                    str(days), f"{quantity}.000", esc(form.unit[:30]),
                    f"{quantity}.000" if status == "dispensed" else "0.000",
                    self.sealed_instructions(INSTRUCTIONS[int(rng.random() * len(INSTRUCTIONS))]),
                    ts(signed), ts(signed + days * 86400),
                )  # fmt: skip

        # Audit events: the record read by its doctor over the last two years.
        audit_from = ANCHOR.timestamp() - AUDIT_MONTHS * 30.4 * 86400
        for _ in range(spec.audit_events):
            at = rng.uniform(max(audit_from, registered), ANCHOR.timestamp() - 3600)
            action, resource_type = AUDIT_ACTIONS[int(rng.random() * len(AUDIT_ACTIONS))]
            self.audit.add(
                self.ids(at), ts(at), doctor, "user", "doctor", oid, pid, action, resource_type, pid, "success",
                "TREAT", f"10.{org_index}.{rng.randrange(256)}.{rng.randrange(1, 255)}", "Mozilla/5.0 (PHB)",
                f"{rng.getrandbits(64):016x}",
            )  # fmt: skip

    # -- appointments ------------------------------------------------------------------------------
    def appointments(self) -> None:
        from phb.demo.appointments import COMPLAINTS, FUTURE, PAST, PATHS, PRIORITIES, REASONS

        rng = random.Random(f"{SEED}:appointments")
        anchor = ANCHOR.timestamp()
        first_day = ANCHOR.date() - dt.timedelta(weeks=APPOINTMENT_WEEKS_BEFORE)
        first_day -= dt.timedelta(days=first_day.weekday())
        all_days = (
            first_day + dt.timedelta(days=d) for d in range((APPOINTMENT_WEEKS_BEFORE + APPOINTMENT_WEEKS_AFTER) * 7)
        )
        days = [d for d in all_days if d.weekday() < 5]
        past = ([str(s) for s, _ in PAST], [w for _, w in PAST])
        future = ([str(s) for s, _ in FUTURE], [w for _, w in FUTURE])
        priorities = ([str(p) for p, _ in PRIORITIES], [w for _, w in PRIORITIES])
        paths = {str(k): [str(s) for s in v] for k, v in PATHS.items()}
        reasons = {str(k): v for k, v in REASONS.items()}
        slots = range(SLOTS_PER_DAY)
        for org in self.orgs:
            total = len(org.patients) * self.spec.appointments
            per_day = total / (len(days) * len(org.doctors))
            written = cell = 0
            oid = str(org.id)
            patients = [str(p) for p in org.patients]
            for day_index, day in enumerate(days):
                opens = dt.datetime.combine(day, DAY_STARTS, tzinfo=org.zone).timestamp()
                for user_id, profile_id, department_code in org.doctors:
                    cell += 1
                    count = round(cell * per_day) - written
                    department = str(org.department_ids[department_code])
                    for slot in sorted(rng.sample(slots, count)):
                        start = opens + slot * SLOT_MINUTES * 60
                        end = start + SLOT_MINUTES * 60
                        status = rng.choices(*(past if end <= anchor else future))[0]
                        booked = start - rng.randint(1, 14) * 86400 - rng.randint(0, 600) * 60
                        aid = self.ids(booked)
                        self.appointment.add(
                            aid, ts(booked), ts(booked), oid, _reference(written), patients[written % len(patients)],
                            str(profile_id), department, department_code, ts(start), ts(end),
                            rng.choices(*priorities)[0], status,
                            self.sealed_complaint(COMPLAINTS[written % len(COMPLAINTS)]), "5000.00", str(user_id),
                        )  # fmt: skip
                        moments = {
                            "pending": booked, "confirmed": booked + 6 * 3600, "checked_in": start - 900,
                            "in_progress": start + 300, "completed": start + 1200, "referred": start + 1200,
                            "no_show": start + 2700, "cancelled": start - 8 * 3600, "rejected": booked + 6 * 3600,
                            "rescheduled": start - 8 * 3600,
                        }  # fmt: skip
                        previous, last = "", booked
                        for step in paths[status]:
                            at = min(max(moments[step], last), anchor)
                            self.transition.add(
                                self.ids(at), ts(at), ts(at), oid, aid, previous, step, ts(at),
                                esc(reasons.get(step, "")),
                            )  # fmt: skip
                            previous, last = step, at
                        written += 1
                if day_index % 20 == 19:
                    self.appointment.flush(self.cursor, staged=self.staged)
                    self.transition.flush(self.cursor, staged=self.staged)
            self.appointment.flush(self.cursor, staged=self.staged)
            self.transition.flush(self.cursor, staged=self.staged)
            if written != total:
                raise RuntimeError(f"{org.code}: wrote {written} appointments instead of {total}")
            self.say(f"{org.code}: {written:,} appointments")

    def counters(self) -> None:
        """The MRN and prescription-number counters, so that PHB's own next numbers follow on."""
        from phb.kernel.context import Ctx
        from phb.medications.models import PrescriptionCounter
        from phb.patients.models import MrnCounter

        system = Ctx.system(reason="benchmark data set")
        MrnCounter.objects.for_system(system).bulk_create(
            [MrnCounter(organization_id=org.id, last=org.mrn) for org in self.orgs]
        )
        PrescriptionCounter.objects.for_system(system).bulk_create(
            [
                PrescriptionCounter(organization_id=self.orgs[org].id, year=year, value=value)
                for (org, year), value in sorted(self.rx_numbers.items())
            ]
        )


INSTRUCTIONS = [
    "Take with food.",
    "Take after meals with plenty of water.",
    "Complete the whole course.",
    "Do not drive if drowsy.",
    "Take in the morning.",
    "",
]
AUDIT_ACTIONS = [
    ("clinical.record.view", "patients.Patient"),
    ("clinical.record.view", "patients.Patient"),
    ("patients.patient.read", "patients.Patient"),
    ("clinical.encounter.read", "patients.Patient"),
    ("medications.prescription.list", "patients.Patient"),
]
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference(n: int) -> str:
    digits = []
    for _ in range(8):
        n, r = divmod(n, 32)
        digits.append(_CROCKFORD[r])
    return "APT-" + "".join(reversed(digits))


def _prescription_valid_days() -> int:
    from django.conf import settings

    return int(getattr(settings, "MEDICATIONS_PRESCRIPTION_VALID_DAYS", 30))


def _drop_indexes(cursor: Any, tables: list[str]) -> list[str]:
    """Drop the indexes of `tables` that back no constraint and return the statements that build them
    again: building an index once over the loaded rows is several times faster than keeping it up to
    date row by row. (The primary keys and unique constraints stay, checking every row as it comes.)"""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [tables],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]


def _audit_partitions(connection: Any) -> None:
    """Monthly partitions of the audit table for the months the events fall in, when this role may
    create them (the owner or a superuser); otherwise the events stay in the default partition."""
    from django.db import transaction

    from phb.kernel import db
    from phb.kernel.models import AuditEvent

    table = AuditEvent._meta.db_table
    if not db.is_partitioned(connection, table) or not db.role_owns_table(connection, table):
        return
    start = ANCHOR - dt.timedelta(days=AUDIT_MONTHS * 31)
    try:
        with transaction.atomic():
            db.ensure_month_partitions(connection, table, months_ahead=AUDIT_MONTHS + 2, start=start)
    except Exception:  # a month already holds rows in the default partition: they stay there
        return


GENERATED_MODELS = (
    "patients.Patient",
    "patients.PatientRegistration",
    "clinical.Encounter",
    "clinical.Observation",
    "clinical.Diagnosis",
    "medications.Prescription",
    "medications.PrescriptionItem",
    "scheduling.Appointment",
    "scheduling.AppointmentTransition",
    "kernel.AuditEvent",
    "accounts.User",
    "workforce.PractitionerProfile",
)


def _analyze_and_measure() -> dict[str, Any]:
    from django.apps import apps
    from django.db import connection

    out: dict[str, Any] = {"tables": {}}
    with connection.cursor() as cursor:
        for label in GENERATED_MODELS:
            table = apps.get_model(label)._meta.db_table
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
            cursor.execute("SELECT set_config('phb.all_tenants', 'on', false)")
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (a model's table)
            rows = cursor.fetchone()[0]
            cursor.execute(
                "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(%s::regclass)), "
                "pg_total_relation_size(%s::regclass))",
                [table, table],
            )
            out["tables"][table] = {"rows": rows, "bytes": int(cursor.fetchone()[0])}
        cursor.execute("SELECT set_config('phb.all_tenants', '', false)")
        cursor.execute("SELECT pg_database_size(current_database())")
        out["database_bytes"] = int(cursor.fetchone()[0])
    return out
