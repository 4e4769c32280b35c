"""The safety check of a prescription, before signing: the terminology's engine
(`terminology.public.safety_check`: interactions, allergy and cross-sensitivity, duplicate therapy,
maximum dose, contraindications by condition, pregnancy and lactation) asked about the proposed
items against what the patient already takes and has.

What the patient already takes: the items of their active prescriptions here (signed, being or fully
dispensed, whose course has not ended), other than the prescription being checked and the one it
replaces. (The clinical record holds no separate medication statements yet; when it does, the drugs
resolvable from its active ones join these.) Allergies: the clinical record's active allergies, each
as an `AllergySubstance`. Conditions: the ICD-10 codes of active diagnoses. Pregnancy and lactation:
the record holds no women's-health data yet, so the prescriber records them on the prescription and
the check uses those flags.

An alert is keyed by its rule and the drugs and items it names (`alert_key`): the key the prescriber's
override reason answers, stable between the check the prescriber saw and the check signing re-runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from phb.clinical import public as clinical
from phb.kernel.context import Ctx
from phb.medications.models import ACTIVE_STATUSES, PrescriptionItem
from phb.terminology import public as terminology

SEVERITY_ORDER = ("contraindicated", "major", "moderate", "minor")
NEEDS_OVERRIDE = frozenset({"contraindicated", "major"})


@dataclass(frozen=True)
class Outcome:
    """What one run of the check found: the alerts (plain dicts, most severe first), the drug codes
    checked against, and the knowledge base's version."""

    alerts: tuple[dict[str, Any], ...]
    current: tuple[str, ...]
    knowledge_version: str

    @property
    def needing_override(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["requires_override"]]

    @property
    def highest_severity(self) -> str:
        return self.alerts[0]["severity"] if self.alerts else ""


def alert_key(rule: str, drugs: Iterable[str], items: Iterable[str]) -> str:
    """`rule|drug+drug|item+item`: which alert an override reason answers."""
    return f"{rule}|{'+'.join(sorted(drugs))}|{'+'.join(sorted(items))}"


def _alert_dict(alert: Any) -> dict[str, Any]:
    drugs, items = tuple(alert.drugs), tuple(alert.items)
    return {
        "key": alert_key(alert.rule, drugs, items),
        "kind": alert.kind,
        "severity": alert.severity,
        "rule": alert.rule,
        "title": alert.title,
        "mechanism": alert.mechanism,
        "management": alert.management,
        "source": alert.source,
        "items": list(items),
        "drugs": list(drugs),
        "requires_override": alert.severity in NEEDS_OVERRIDE,
    }


def current_drug_codes(
    ctx: Ctx, patient_id: uuid.UUID, *, exclude_prescriptions: Sequence[uuid.UUID | None] = ()
) -> list[str]:
    """Drug codes of the patient's current medications here (see the module's docstring)."""
    now = timezone.now()
    codes = (
        PrescriptionItem.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, prescription__status__in=ACTIVE_STATUSES)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gte=now))
        .exclude(prescription_id__in=[p for p in exclude_prescriptions if p is not None])
        .values_list("drug_code", flat=True)
    )
    out: list[str] = []
    for code in codes:
        if code not in out:
            out.append(code)
    return out


def allergy_substances(ctx: Ctx, patient_id: uuid.UUID) -> list[Any]:
    """The patient's active allergies as the engine's `AllergySubstance`s (audited by clinical)."""
    return [
        terminology.AllergySubstance(coding=a.coding, text=a.text)  # type: ignore[attr-defined]
        for a in clinical.active_allergies(ctx, patient_id)
    ]


@dataclass(frozen=True)
class Proposed:
    """One item to check: `key` names it in the alerts (its line number on the prescription)."""

    key: str
    drug_code: str
    route: str = ""
    daily_amount_mg: Decimal | None = None


def run(
    ctx: Ctx,
    *,
    patient_id: uuid.UUID,
    proposed: Sequence[Proposed],
    pregnant: bool = False,
    lactating: bool = False,
    exclude_prescriptions: Sequence[uuid.UUID | None] = (),
) -> Outcome:
    """Ask the engine about `proposed` for this patient. Reads the patient's current medications,
    allergies and conditions here (the caller has checked the care relationship)."""
    current = current_drug_codes(ctx, patient_id, exclude_prescriptions=exclude_prescriptions)
    found = terminology.safety_check(  # type: ignore[attr-defined]
        proposed=[
            terminology.ProposedDrug(  # type: ignore[attr-defined]
                key=p.key,
                drug_code=p.drug_code,
                route=p.route,
                daily_amount=p.daily_amount_mg,
                daily_unit="mg" if p.daily_amount_mg is not None else "",
            )
            for p in proposed
        ],
        current=current,
        allergies=allergy_substances(ctx, patient_id),
        conditions=clinical.active_condition_codes(ctx, patient_id),
        pregnant=pregnant,
        lactating=lactating,
    )
    alerts = sorted(
        (_alert_dict(a) for a in found),
        key=lambda a: (SEVERITY_ORDER.index(a["severity"]) if a["severity"] in SEVERITY_ORDER else 9, a["key"]),
    )
    return Outcome(
        alerts=tuple(alerts),
        current=tuple(current),
        knowledge_version=terminology.knowledge_version(),  # type: ignore[attr-defined]
    )
