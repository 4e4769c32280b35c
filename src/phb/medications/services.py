"""Every write of a prescription: a draft with its items (checked against the drug catalogue, the dose
made structured, the quantity derived where it can be), the safety check, signing (which re-runs the
check and refuses a contraindicated or major alert without an override reason), cancelling, replacing
(a new prescription that cancels the old one when it is signed, in the same transaction), expiry, and
recording what a pharmacy dispensed.

Each service checks the capability and the care relationship first (policies; refusals audited
outside any transaction that could roll them back), validates before any write, and writes, audits
and publishes in one transaction. Status changes follow `transitions.TABLE`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ProblemError, ValidationFailed
from phb.kernel.models import Organization
from phb.medications import dosing, policies, safety, transitions
from phb.medications.events import PrescriptionDispensed, PrescriptionIssued, PrescriptionStatusChanged
from phb.medications.models import (
    DISPENSABLE_STATUSES,
    CheckOutcome,
    CheckPurpose,
    Frequency,
    Prescription,
    PrescriptionCounter,
    PrescriptionEvent,
    PrescriptionItem,
    PrescriptionStatus,
    SafetyCheck,
    SafetyOverride,
)
from phb.organizations.models import Department
from phb.terminology import public as terminology

MAX_ITEMS = 20
MAX_REFILLS = 12
MAX_DURATION_DAYS = 365
INSTRUCTIONS_MAX_CHARS = 2_000
REASON_MAX_CHARS = 2_000
ITEM_FIELDS = frozenset(
    {
        "drug_code",
        "form",
        "strength",
        "dose_quantity",
        "dose_unit",
        "route",
        "frequency",
        "interval_hours",
        "duration_days",
        "quantity",
        "quantity_unit",
        "refills",
        "indication_code",
        "instructions",
    }
)


class OverrideReasonRequired(ProblemError):
    """Signing refused: a contraindicated or major alert has no override reason. `alerts` lists them."""

    status, code, title = 422, "OVERRIDE_REASON_REQUIRED", "An alert needs an override reason"


def _text(field: str, value: Any, *, limit: int) -> str:
    value = str(value or "").strip()
    if len(value) > limit:
        raise ValidationFailed.field(field, f"at most {limit} characters", code="too_long")
    return value


def organization_timezone(ctx: Ctx) -> str:
    return Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).first() or settings.TIME_ZONE


# --------------------------------------------------------------------------------------------------
# Items: the structured dose
# --------------------------------------------------------------------------------------------------


def _decimal(field: str, value: Any, *, required: bool = True, high: Decimal = Decimal(100_000)) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise ValidationFailed.field(field, "required", code="required")
        return None
    if isinstance(value, bool):
        raise ValidationFailed.field(field, "must be a number", code="not_a_number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed.field(field, "must be a number", code="not_a_number") from None
    if not number.is_finite() or number <= 0 or number > high:
        raise ValidationFailed.field(field, f"must be above 0 and at most {high}", code="out_of_range")
    if number != number.quantize(Decimal("0.001")):
        raise ValidationFailed.field(field, "at most three decimal places", code="too_precise")
    return number


def _whole(field: str, value: Any, *, low: int, high: int, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise ValidationFailed.field(field, "required", code="required")
        return None
    if isinstance(value, bool):
        raise ValidationFailed.field(field, "must be a whole number", code="not_a_whole_number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationFailed.field(field, "must be a whole number", code="not_a_whole_number") from None
    if not low <= number <= high:
        raise ValidationFailed.field(field, f"between {low} and {high}", code="out_of_range")
    return number


def _drug(field: str, code: str) -> Any:
    if not code:
        raise ValidationFailed.field(field, "choose a drug", code="required")
    try:
        return terminology.drug_get(code)  # type: ignore[attr-defined]
    except NotFound:
        raise ValidationFailed.field(field, "not a drug of the catalogue", code="unknown_drug") from None


def _clean_item(raw: Any, prefix: str) -> dict[str, Any]:
    """One item checked against the catalogue (its drug, form, strength), its dose made structured."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed.field(prefix, "an item is an object of fields", code="invalid")
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise ValidationFailed.field(f"{prefix}.{unknown[0]}", "not a field of an item", code="unknown_field")
    drug = _drug(f"{prefix}.drug_code", str(raw.get("drug_code") or "").strip())
    form_name = str(raw.get("form") or "").strip()
    forms = tuple(drug.forms)
    form = (
        next((f for f in forms if f.form == form_name), None) if form_name else (forms[0] if len(forms) == 1 else None)
    )
    if form is None and (form_name or forms):
        names = ", ".join(f.form for f in forms)
        raise ValidationFailed.field(
            f"{prefix}.form", f"one of {names}", code="unknown_form" if form_name else "required"
        )
    strength = str(raw.get("strength") or "").strip()
    if form is not None and form.strengths:
        if not strength and len(form.strengths) == 1:
            strength = form.strengths[0]
        elif strength not in form.strengths:
            raise ValidationFailed.field(
                f"{prefix}.strength", f"one of {', '.join(form.strengths)}", code="unknown_strength"
            )
    dose = _decimal(f"{prefix}.dose_quantity", raw.get("dose_quantity"))
    assert dose is not None
    form_unit = form.unit if form is not None else ""
    dose_unit = _text(f"{prefix}.dose_unit", raw.get("dose_unit") or form_unit, limit=30)
    if not dose_unit:
        raise ValidationFailed.field(f"{prefix}.dose_unit", "required", code="required")
    route = _text(f"{prefix}.route", raw.get("route") or (form.route if form is not None else ""), limit=40)
    frequency = str(raw.get("frequency") or "").strip().upper()
    if frequency not in Frequency.values:
        raise ValidationFailed.field(
            f"{prefix}.frequency", f"one of {', '.join(Frequency.values)}", code="invalid_choice"
        )
    interval = None
    if frequency == Frequency.EVERY_N_HOURS:
        interval = _whole(f"{prefix}.interval_hours", raw.get("interval_hours"), low=1, high=24, required=True)
        if not dosing.valid_interval(interval):
            raise ValidationFailed.field(
                f"{prefix}.interval_hours", "a number of hours dividing the day (2, 3, 4, 6, 8, 12)", code="invalid"
            )
    elif raw.get("interval_hours") not in (None, ""):
        raise ValidationFailed.field(f"{prefix}.interval_hours", "only for every N hours", code="not_applicable")
    duration = _whole(f"{prefix}.duration_days", raw.get("duration_days"), low=1, high=MAX_DURATION_DAYS)
    quantity = _decimal(f"{prefix}.quantity", raw.get("quantity"), required=False)
    quantity_unit = _text(f"{prefix}.quantity_unit", raw.get("quantity_unit"), limit=30)
    if quantity is None:
        derived = dosing.supply(
            dose_quantity=dose,
            dose_unit=dose_unit,
            strength=strength,
            form_unit=form_unit,
            frequency=frequency,
            interval_hours=interval,
            duration_days=duration,
        )
        if derived is None:
            raise ValidationFailed.field(
                f"{prefix}.quantity", "give the quantity to supply (it cannot be derived)", code="required"
            )
        quantity, derived_unit = derived
        quantity_unit = quantity_unit or derived_unit
    quantity_unit = quantity_unit or form_unit or dose_unit
    refills = _whole(f"{prefix}.refills", raw.get("refills"), low=0, high=MAX_REFILLS) or 0
    indication = ("", "", "")
    indication_code = str(raw.get("indication_code") or "").strip()
    if indication_code:
        try:
            coding = terminology.validate_coding(terminology.ICD10_CM, indication_code, field=f"{prefix}.indication")
        except ValidationFailed as exc:
            raise ValidationFailed("The indication is not an ICD-10-CM code.", errors=exc.extra.get("errors")) from None
        indication = (coding.system, coding.code, coding.display)
    return {
        "drug_system": drug.coding.system,
        "drug_code": drug.code,
        "drug_display": drug.name,
        "form": form.form if form is not None else "",
        "strength": strength,
        "dose_quantity": dose,
        "dose_unit": dose_unit,
        "route": route,
        "frequency": frequency,
        "interval_hours": interval,
        "duration_days": duration,
        "quantity": quantity,
        "quantity_unit": quantity_unit,
        "refills": refills,
        "indication_system": indication[0],
        "indication_code": indication[1],
        "indication_display": indication[2],
        "instructions": _text(f"{prefix}.instructions", raw.get("instructions"), limit=INSTRUCTIONS_MAX_CHARS),
        "daily_amount_mg": dosing.daily_amount_mg(
            dose_quantity=dose,
            dose_unit=dose_unit,
            strength=strength,
            form_unit=form_unit,
            frequency=frequency,
            interval_hours=interval,
        ),
    }


def clean_items(items: Any) -> list[dict[str, Any]]:
    """Every item checked; one error per bad item, all raised together (nothing is written when any is bad)."""
    if not isinstance(items, list | tuple) or not items:
        raise ValidationFailed.field("items", "prescribe at least one drug", code="required")
    if len(items) > MAX_ITEMS:
        raise ValidationFailed.field("items", f"at most {MAX_ITEMS} items", code="too_many")
    cleaned, errors = [], []
    for i, raw in enumerate(items):
        try:
            cleaned.append(_clean_item(raw, f"items[{i}]"))
        except ValidationFailed as exc:
            errors += exc.extra.get("errors") or [{"field": f"items[{i}]", "message": exc.detail, "code": "invalid"}]
    if errors:
        raise ValidationFailed("Some items are not valid; nothing was saved.", errors=errors)
    return cleaned


def _write_items(ctx: Ctx, prescription: Prescription, cleaned: Sequence[Mapping[str, Any]]) -> list[PrescriptionItem]:
    rows = [
        PrescriptionItem(
            organization_id=ctx.organization_id,
            prescription=prescription,
            patient_id=prescription.patient_id,
            position=i,
            **values,
        )
        for i, values in enumerate(cleaned)
    ]
    return PrescriptionItem.objects.for_tenant(ctx).bulk_create(rows)


# --------------------------------------------------------------------------------------------------
# Drafts
# --------------------------------------------------------------------------------------------------


def _next_number(ctx: Ctx, now: dt.datetime) -> str:
    """RX-<year>-<six digits>, counted per organization and year under a row lock."""
    year = now.year
    counters = PrescriptionCounter.objects.for_tenant(ctx).select_for_update()
    counter = counters.filter(year=year).first()
    if counter is None:
        try:
            with transaction.atomic():
                counter = PrescriptionCounter.objects.create(organization_id=ctx.organization_id, year=year)
        except IntegrityError:  # another transaction made this year's counter first
            counter = counters.get(year=year)
    counter.value += 1
    counter.save(update_fields=["value", "updated_at"])
    return f"RX-{year}-{counter.value:06d}"


def _pharmacy(ctx: Ctx, department_id: uuid.UUID | None) -> uuid.UUID | None:
    if department_id is None:
        return None
    found = Department.objects.for_tenant(ctx).filter(id=department_id, is_active=True, kind="pharmacy").exists()
    if not found:
        raise ValidationFailed.field("pharmacy_department_id", "not a pharmacy of this organization", code="unknown")
    return department_id


def _encounter(ctx: Ctx, encounter_id: uuid.UUID | None, patient_id: uuid.UUID) -> uuid.UUID | None:
    from phb.clinical.public import Encounter  # the encounter a prescription belongs to: one id check

    if encounter_id is None:
        return None
    if not Encounter.objects.for_tenant(ctx).filter(id=encounter_id, patient_id=patient_id).exists():
        raise ValidationFailed.field("encounter_id", "not an encounter of this patient here", code="unknown_encounter")
    return encounter_id


def _history(
    ctx: Ctx, prescription: Prescription, from_status: str, to_status: str, *, reason: str = "", **detail: Any
) -> None:
    PrescriptionEvent.objects.create(
        organization_id=prescription.organization_id,
        prescription=prescription,
        from_status=from_status,
        to_status=to_status,
        actor_id=ctx.actor_id,
        at=timezone.now(),
        reason=reason,
        detail=detail,
    )


def prescription_create(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    items: Sequence[Mapping[str, Any]],
    encounter_id: uuid.UUID | None = None,
    pharmacy_department_id: uuid.UUID | None = None,
    pregnant: bool = False,
    lactating: bool = False,
    replaces_id: uuid.UUID | None = None,
    repeat_of_id: uuid.UUID | None = None,
) -> Prescription:
    """A draft prescription by `ctx`'s prescriber for a patient in their care: checked items, a number."""
    action = "medications.prescription.create"
    break_glass = policies.require_patient(ctx, action, patient_id, prescribe=True)
    cleaned = clean_items(items)
    now = timezone.now()
    with transaction.atomic():
        prescription = Prescription.objects.create(
            organization_id=ctx.organization_id,
            number=_next_number(ctx, now),
            patient_id=patient_id,
            encounter_id=_encounter(ctx, encounter_id, patient_id),
            author_id=ctx.actor_id,
            pharmacy_department_id=_pharmacy(ctx, pharmacy_department_id),
            pregnant=bool(pregnant),
            lactating=bool(lactating),
            replaces_id=replaces_id,
            repeat_of_id=repeat_of_id,
        )
        _write_items(ctx, prescription, cleaned)
        _history(ctx, prescription, "", PrescriptionStatus.DRAFT)
        audit.record(
            ctx,
            action,
            target=prescription,
            patient_id=patient_id,
            drugs=[c["drug_code"] for c in cleaned],
            **({"break_glass": True} if break_glass else {}),
        )
    return prescription


def _authorized(ctx: Ctx, action: str, prescription_id: uuid.UUID) -> Prescription:
    """The prescription (unlocked) when `ctx` may act on it as a prescriber, else an audited refusal:
    Forbidden without the capability, NotFound for another tenant's, another author's draft, or a
    patient outside one's care. Runs before the writing transaction, so refusals stay recorded."""
    if not policies.can_prescribe(ctx):
        raise audit.denied(
            ctx, action, Forbidden("prescribing needs the can-prescribe capability"), resource_id=str(prescription_id)
        )
    found = Prescription.objects.for_tenant(ctx).filter(id=prescription_id).first()
    if found is None or (found.status == PrescriptionStatus.DRAFT and found.author_id != ctx.actor_id):
        # SECURITY: drafts are their author's; another organization's prescription does not exist here.
        raise audit.denied(ctx, action, NotFound("no such prescription"), resource_id=str(prescription_id))
    policies.require_patient(ctx, action, found.patient_id, prescribe=True)
    return found


def _locked(ctx: Ctx, prescription_id: uuid.UUID) -> Prescription:
    return Prescription.objects.for_tenant(ctx).select_for_update().get(id=prescription_id)


def _own_draft(ctx: Ctx, prescription_id: uuid.UUID) -> Prescription:
    prescription = _locked(ctx, prescription_id)
    if prescription.status != PrescriptionStatus.DRAFT:
        raise Conflict(
            f"a {prescription.get_status_display().lower()} prescription cannot change: replace it instead",
            code="PRESCRIPTION_NOT_DRAFT",
            prescription_status=prescription.status,
        )
    return prescription


def prescription_update(
    *,
    ctx: Ctx,
    prescription_id: uuid.UUID,
    items: Sequence[Mapping[str, Any]] | None = None,
    pharmacy_department_id: uuid.UUID | object | None = ...,
    pregnant: bool | None = None,
    lactating: bool | None = None,
) -> Prescription:
    """Change one's own draft: its items (all of them, when given), the nominated pharmacy, the
    pregnancy and lactation flags the check uses."""
    action = "medications.prescription.update"
    found = _authorized(ctx, action, prescription_id)
    cleaned = clean_items(items) if items is not None else None
    pharmacy = (
        _pharmacy(ctx, pharmacy_department_id)  # type: ignore[arg-type]
        if pharmacy_department_id is not ...
        else found.pharmacy_department_id
    )
    with transaction.atomic():
        prescription = _own_draft(ctx, prescription_id)
        prescription.pharmacy_department_id = pharmacy
        if pregnant is not None:
            prescription.pregnant = bool(pregnant)
        if lactating is not None:
            prescription.lactating = bool(lactating)
        prescription.save(update_fields=["pharmacy_department", "pregnant", "lactating", "updated_at"])
        if cleaned is not None:
            PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription).delete()
            _write_items(ctx, prescription, cleaned)
        audit.record(
            ctx,
            action,
            target=prescription,
            patient_id=prescription.patient_id,
            drugs=[c["drug_code"] for c in cleaned] if cleaned is not None else None,
        )
    return prescription


# --------------------------------------------------------------------------------------------------
# The safety check and signing
# --------------------------------------------------------------------------------------------------


def _proposed(items: Sequence[PrescriptionItem]) -> list[safety.Proposed]:
    return [
        # Keyed by line number (1, 2, ...), not by row id: an alert keeps its key when the same items are
        # written again (a repeat's new prescription), so an override reason given for it still answers it.
        safety.Proposed(
            key=str(i.position + 1), drug_code=i.drug_code, route=i.route, daily_amount_mg=i.daily_amount_mg
        )
        for i in items
    ]


def _run_check(ctx: Ctx, prescription: Prescription, items: Sequence[PrescriptionItem]) -> safety.Outcome:
    return safety.run(
        ctx,
        patient_id=prescription.patient_id,
        proposed=_proposed(items),
        pregnant=prescription.pregnant,
        lactating=prescription.lactating,
        exclude_prescriptions=[prescription.id, prescription.replaces_id],
    )


def _store_check(
    ctx: Ctx, prescription: Prescription, outcome: safety.Outcome, *, purpose: str, result: str
) -> SafetyCheck:
    return SafetyCheck.objects.create(
        organization_id=prescription.organization_id,
        prescription=prescription,
        patient_id=prescription.patient_id,
        checked_at=timezone.now(),
        checked_by_id=ctx.actor_id,
        purpose=purpose,
        outcome=result,
        knowledge_version=outcome.knowledge_version,
        pregnant=prescription.pregnant,
        lactating=prescription.lactating,
        current_drugs=list(outcome.current),
        alerts=list(outcome.alerts),
        highest_severity=outcome.highest_severity,
    )


def prescription_check(
    *, ctx: Ctx, prescription_id: uuid.UUID, pregnant: bool | None = None, lactating: bool | None = None
) -> SafetyCheck:
    """Run the safety check on one's own draft (after recording pregnancy and lactation, when given)
    and keep its result: the alerts to show, with severity and advice, before signing."""
    action = "medications.prescription.check"
    _authorized(ctx, action, prescription_id)
    with transaction.atomic():
        prescription = _own_draft(ctx, prescription_id)
        if pregnant is not None or lactating is not None:
            prescription.pregnant = prescription.pregnant if pregnant is None else bool(pregnant)
            prescription.lactating = prescription.lactating if lactating is None else bool(lactating)
            prescription.save(update_fields=["pregnant", "lactating", "updated_at"])
        items = list(PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription).order_by("position"))
        outcome = _run_check(ctx, prescription, items)
        check = _store_check(
            ctx,
            prescription,
            outcome,
            purpose=CheckPurpose.CHECK,
            result=CheckOutcome.ALERTS if outcome.alerts else CheckOutcome.CLEAR,
        )
        audit.record(
            ctx,
            action,
            target=prescription,
            patient_id=prescription.patient_id,
            check=str(check.id),
            alerts=[a["rule"] for a in outcome.alerts],
        )
    return check


def clean_overrides(overrides: Mapping[str, Any] | None) -> dict[str, str]:
    """{alert key: reason}, reasons trimmed (an empty reason is no reason)."""
    out: dict[str, str] = {}
    for key, reason in (overrides or {}).items():
        text = _text(f"overrides.{key}", reason, limit=REASON_MAX_CHARS)
        if text:
            out[str(key)] = text
    return out


def _refusal(outcome: safety.Outcome, missing: list[dict[str, Any]]) -> OverrideReasonRequired:
    return OverrideReasonRequired(
        "Contraindicated and major alerts need an override reason before signing.",
        alerts=missing,
        knowledge_version=outcome.knowledge_version,
    )


def _record_overrides(
    ctx: Ctx, prescription: Prescription, check: SafetyCheck, outcome: safety.Outcome, reasons: Mapping[str, str]
) -> list[SafetyOverride]:
    """An override row (and audit event) for each alert signed through with a reason: every
    contraindicated and major one, and any lesser one the prescriber chose to explain."""
    now = timezone.now()
    rows = []
    for alert in outcome.alerts:
        reason = reasons.get(alert["key"])
        if not reason:
            continue
        override = SafetyOverride.objects.create(
            organization_id=prescription.organization_id,
            prescription=prescription,
            check_run=check,
            patient_id=prescription.patient_id,
            alert_key=alert["key"][:300],
            kind=alert["kind"],
            severity=alert["severity"],
            rule=alert["rule"][:120],
            title=alert["title"][:300],
            drugs=alert["drugs"],
            reason=reason,
            overridden_by_id=ctx.actor_id,
            overridden_at=now,
            knowledge_version=outcome.knowledge_version,
        )
        audit.record(
            ctx,
            "medications.safety_override.create",
            target=override,
            patient_id=prescription.patient_id,
            prescription=str(prescription.id),
            rule=alert["rule"],
            severity=alert["severity"],
            drugs=alert["drugs"],
            knowledge_version=outcome.knowledge_version,
        )
        rows.append(override)
    return rows


def _course_dates(items: Sequence[PrescriptionItem], now: dt.datetime) -> None:
    for item in items:
        item.starts_at = now
        if item.frequency == Frequency.ONCE:
            item.ends_at = now + dt.timedelta(days=1)
        elif item.duration_days:
            item.ends_at = now + dt.timedelta(days=item.duration_days)
        else:
            item.ends_at = None
        # Before the prescription's own update: once it is signed, its items no longer change.
        item.save(update_fields=["starts_at", "ends_at", "updated_at"])


def _publish_status(ctx: Ctx, prescription: Prescription, from_status: str) -> None:
    events.publish(
        ctx,
        PrescriptionStatusChanged(
            prescription_id=prescription.id,
            organization_id=prescription.organization_id,
            from_status=from_status,
            to_status=prescription.status,
        ),
    )


def _cancel_replaced(ctx: Ctx, prescription: Prescription) -> None:
    """Within the signing transaction: the prescription this one replaces is cancelled, linked to it."""
    old = _locked(ctx, prescription.replaces_id)  # type: ignore[arg-type]
    if old.status not in DISPENSABLE_STATUSES:
        raise Conflict(
            f"the prescription it replaces is {old.get_status_display().lower()}: it can no longer be replaced",
            code="PRESCRIPTION_NOT_REPLACEABLE",
            prescription_status=old.status,
        )
    transitions.require(old.status, PrescriptionStatus.CANCELLED)
    from_status = old.status
    old.status, old.cancelled_at, old.cancelled_by_id = PrescriptionStatus.CANCELLED, timezone.now(), ctx.actor_id
    old.cancel_reason = f"Replaced by {prescription.number}"
    old.replaced_by = prescription
    old.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason", "replaced_by", "updated_at"])
    _history(ctx, old, from_status, old.status, reason=old.cancel_reason, replaced_by=str(prescription.id))
    audit.record(
        ctx,
        "medications.prescription.cancel",
        target=old,
        patient_id=old.patient_id,
        from_status=from_status,
        replaced_by=str(prescription.id),
    )
    _publish_status(ctx, old, from_status)


@dataclass(frozen=True)
class Signed:
    prescription: Prescription
    check: SafetyCheck
    overrides: list[SafetyOverride]


def sign_locked(
    ctx: Ctx, prescription: Prescription, reasons: Mapping[str, str], *, purpose: str = CheckPurpose.SIGN
) -> Signed | tuple[safety.Outcome, list[dict[str, Any]]]:
    """Within the caller's transaction, on a locked draft: re-run the check; with every contraindicated
    and major alert answered, sign (overrides, course dates, doses due, the replaced prescription
    cancelled, history, audit, event) and return `Signed`; otherwise write nothing and return the
    outcome with the alerts still needing a reason (the caller records the refusal after rolling back)."""
    transitions.require(prescription.status, PrescriptionStatus.SIGNED)
    items = list(PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription).order_by("position"))
    if not items:
        raise ValidationFailed.field("items", "an empty prescription cannot be signed", code="required")
    outcome = _run_check(ctx, prescription, items)
    missing = [a for a in outcome.needing_override if not reasons.get(a["key"])]
    if missing:
        return outcome, missing
    now = timezone.now()
    check = _store_check(ctx, prescription, outcome, purpose=purpose, result=CheckOutcome.SIGNED)
    overrides = _record_overrides(ctx, prescription, check, outcome, reasons)
    _course_dates(items, now)
    from_status = prescription.status
    prescription.status, prescription.signed_at, prescription.prescriber_id = (
        PrescriptionStatus.SIGNED,
        now,
        ctx.actor_id,
    )
    prescription.expires_at = now + dt.timedelta(days=settings.MEDICATIONS_PRESCRIPTION_VALID_DAYS)
    prescription.save(update_fields=["status", "signed_at", "prescriber", "expires_at", "updated_at"])
    _history(ctx, prescription, from_status, prescription.status, check=str(check.id), overrides=len(overrides))
    if prescription.replaces_id is not None:
        _cancel_replaced(ctx, prescription)
    from phb.medications import adherence  # doses due follow the signed schedule

    adherence.doses_generate(ctx=ctx, prescription=prescription, items=items, now=now)
    audit.record(
        ctx,
        "medications.prescription.sign",
        target=prescription,
        patient_id=prescription.patient_id,
        check=str(check.id),
        alerts=[a["rule"] for a in outcome.alerts],
        overrides=[o.rule for o in overrides],
        knowledge_version=outcome.knowledge_version,
    )
    events.publish(
        ctx,
        PrescriptionIssued(
            prescription_id=prescription.id,
            organization_id=prescription.organization_id,
            patient_id=prescription.patient_id,
        ),
    )
    return Signed(prescription, check, overrides)


def record_refusal(
    ctx: Ctx,
    action: str,
    prescription: Prescription,
    outcome: safety.Outcome,
    missing: list[dict[str, Any]],
    *,
    purpose: str = CheckPurpose.SIGN,
) -> OverrideReasonRequired:
    """After the signing transaction rolled back: the check that refused, kept, and the audited refusal."""
    with transaction.atomic():
        check = _store_check(ctx, prescription, outcome, purpose=purpose, result=CheckOutcome.REFUSED)
    refusal = _refusal(outcome, missing)
    audit.denied(
        ctx,
        action,
        refusal,
        resource_type="medications.Prescription",
        resource_id=prescription.id,
        patient_id=prescription.patient_id,
        check=str(check.id),
        alerts=[a["rule"] for a in missing],
    )
    return refusal


def prescription_sign(
    *,
    ctx: Ctx,
    prescription_id: uuid.UUID,
    overrides: Mapping[str, Any] | None = None,
    pregnant: bool | None = None,
    lactating: bool | None = None,
) -> Prescription:
    """Sign one's own draft. The safety check runs again here (never trusting what the client saw);
    a contraindicated or major alert without an override reason refuses with 422
    OVERRIDE_REASON_REQUIRED, listing the alerts. Signing a replacement cancels the prescription it
    replaces in the same transaction."""
    action = "medications.prescription.sign"
    _authorized(ctx, action, prescription_id)
    reasons = clean_overrides(overrides)
    with transaction.atomic():
        prescription = _own_draft(ctx, prescription_id)
        if pregnant is not None or lactating is not None:
            prescription.pregnant = prescription.pregnant if pregnant is None else bool(pregnant)
            prescription.lactating = prescription.lactating if lactating is None else bool(lactating)
            prescription.save(update_fields=["pregnant", "lactating", "updated_at"])
        result = sign_locked(ctx, prescription, reasons)
        if isinstance(result, Signed):
            return result.prescription
        transaction.set_rollback(True)
    outcome, missing = result
    raise record_refusal(ctx, action, prescription, outcome, missing)


# --------------------------------------------------------------------------------------------------
# Cancelling, replacing, expiry
# --------------------------------------------------------------------------------------------------


def prescription_cancel(*, ctx: Ctx, prescription_id: uuid.UUID, reason: str = "") -> Prescription:
    """Cancel one's own draft, or a signed prescription not (fully) dispensed yet, saying why."""
    action = "medications.prescription.cancel"
    reason = _text("reason", reason, limit=REASON_MAX_CHARS)
    _authorized(ctx, action, prescription_id)
    with transaction.atomic():
        prescription = _locked(ctx, prescription_id)
        transitions.require(prescription.status, PrescriptionStatus.CANCELLED)
        if prescription.status != PrescriptionStatus.DRAFT and not reason:
            raise ValidationFailed.field("reason", "say why a signed prescription is cancelled", code="required")
        from_status = prescription.status
        prescription.status, prescription.cancelled_at = PrescriptionStatus.CANCELLED, timezone.now()
        prescription.cancelled_by_id, prescription.cancel_reason = ctx.actor_id, reason
        prescription.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason", "updated_at"])
        _history(ctx, prescription, from_status, prescription.status, reason=reason)
        from phb.medications import adherence

        adherence.doses_withdraw(ctx=ctx, prescription=prescription)
        audit.record(ctx, action, target=prescription, patient_id=prescription.patient_id, from_status=from_status)
        _publish_status(ctx, prescription, from_status)
    return prescription


def item_as_input(i: PrescriptionItem) -> dict[str, Any]:
    """An item as the services take it (to copy it into a replacement, a repeat, or a draft being edited)."""
    return {
        "drug_code": i.drug_code,
        "form": i.form,
        "strength": i.strength,
        "dose_quantity": i.dose_quantity,
        "dose_unit": i.dose_unit,
        "route": i.route,
        "frequency": i.frequency,
        "interval_hours": i.interval_hours,
        "duration_days": i.duration_days,
        "quantity": i.quantity,
        "quantity_unit": i.quantity_unit,
        "refills": i.refills,
        "indication_code": i.indication_code if i.indication_system == terminology.ICD10_CM else "",
        "instructions": i.instructions,
    }


def _copied_items(ctx: Ctx, prescription: Prescription) -> list[dict[str, Any]]:
    items = PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription).order_by("position")
    return [item_as_input(i) for i in items]


def prescription_replace(
    *,
    ctx: Ctx,
    prescription_id: uuid.UUID,
    items: Sequence[Mapping[str, Any]] | None = None,
    encounter_id: uuid.UUID | None = None,
) -> Prescription:
    """A change to a signed prescription: a new draft that replaces it (its items copied, or the items
    given). Signing the draft cancels the old prescription, linked both ways, in one transaction."""
    action = "medications.prescription.replace"
    old = _authorized(ctx, action, prescription_id)
    if old.status not in DISPENSABLE_STATUSES:
        raise Conflict(
            f"a {old.get_status_display().lower()} prescription cannot be replaced",
            code="PRESCRIPTION_NOT_REPLACEABLE",
            prescription_status=old.status,
        )
    return prescription_create(
        ctx=ctx,
        patient_id=old.patient_id,
        items=items if items is not None else _copied_items(ctx, old),
        encounter_id=encounter_id or old.encounter_id,
        pharmacy_department_id=old.pharmacy_department_id,
        pregnant=old.pregnant,
        lactating=old.lactating,
        replaces_id=old.id,
    )


def prescriptions_expire_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Signed or partly dispensed prescriptions past their validity become expired (scheduled hourly)."""
    now = now or timezone.now()
    system = Ctx.system(reason="expire prescriptions past their validity")
    due = list(
        Prescription.objects.for_system(system)
        .filter(status__in=DISPENSABLE_STATUSES, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", "organization_id")[:limit]
    )
    expired = 0
    for prescription_id, organization_id in due:
        ctx = system.for_organization(organization_id)
        with transaction.atomic():
            prescription = _locked(ctx, prescription_id)
            if prescription.status not in DISPENSABLE_STATUSES or prescription.expires_at > now:  # type: ignore[operator]
                continue
            from_status = prescription.status
            prescription.status, prescription.expired_at = PrescriptionStatus.EXPIRED, now
            prescription.save(update_fields=["status", "expired_at", "updated_at"])
            _history(ctx, prescription, from_status, prescription.status)
            audit.record(
                ctx, "medications.prescription.expire", target=prescription, patient_id=prescription.patient_id
            )
            _publish_status(ctx, prescription, from_status)
            expired += 1
    return expired


# --------------------------------------------------------------------------------------------------
# Dispensing (called by the pharmacy, through public.py, inside its own transaction)
# --------------------------------------------------------------------------------------------------


def prescription_record_dispensing(
    *, ctx: Ctx, prescription_id: uuid.UUID, quantities: Mapping[uuid.UUID, Decimal]
) -> str:
    """Add what a pharmacy handed out to each item's dispensed quantity, and move the prescription to
    partially dispensed or dispensed. Locks the prescription first, so two pharmacists dispensing the
    same prescription at once run one after the other and neither can exceed what remains."""
    action = "medications.prescription.dispense"
    if not policies.can_dispense(ctx):
        raise audit.denied(
            ctx, action, Forbidden("dispensing needs the can-dispense capability"), resource_id=str(prescription_id)
        )
    if not quantities:
        raise ValidationFailed.field("quantities", "dispense at least one item", code="required")
    with transaction.atomic():
        # SECURITY: for_tenant: another organization's prescription is not found.
        prescription = Prescription.objects.for_tenant(ctx).select_for_update().filter(id=prescription_id).first()
        if prescription is None:
            raise NotFound("no such prescription")
        if prescription.status not in DISPENSABLE_STATUSES or (
            prescription.expires_at is not None and prescription.expires_at <= timezone.now()
        ):
            raise Conflict(
                f"a {prescription.get_status_display().lower()} prescription cannot be dispensed",
                code="PRESCRIPTION_NOT_DISPENSABLE",
                prescription_status=prescription.status,
            )
        items = {i.id: i for i in PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription)}
        errors = []
        for item_id, raw in quantities.items():
            item = items.get(item_id if isinstance(item_id, uuid.UUID) else _uuid(item_id))
            if item is None:
                raise ValidationFailed(
                    "An item is not part of this prescription.",
                    code="UNKNOWN_ITEM",
                    errors=[{"field": str(item_id), "message": "not an item of this prescription", "code": "unknown"}],
                )
            quantity = _quantity(raw)
            remaining = item.quantity - item.quantity_dispensed
            if quantity is None or quantity <= 0 or quantity > remaining:
                errors.append(
                    {
                        "field": str(item.id),
                        "message": f"between 0 (excluded) and the {remaining.normalize()} {item.quantity_unit} that remain",
                        "code": "over_dispensed",
                    }
                )
        if errors:
            raise ValidationFailed("A quantity is not what can be dispensed.", code="OVER_DISPENSED", errors=errors)
        for item_id, raw in quantities.items():
            item = items[item_id if isinstance(item_id, uuid.UUID) else _uuid(item_id)]  # type: ignore[index]
            item.quantity_dispensed += _quantity(raw)  # type: ignore[operator]
            item.save(update_fields=["quantity_dispensed", "updated_at"])
        complete = all(i.quantity_dispensed >= i.quantity for i in items.values())
        target = PrescriptionStatus.DISPENSED if complete else PrescriptionStatus.PARTIALLY_DISPENSED
        transitions.require(prescription.status, target)
        from_status = prescription.status
        prescription.status = target
        prescription.save(update_fields=["status", "updated_at"])
        dispensed = {str(k): str(v) for k, v in quantities.items()}
        _history(ctx, prescription, from_status, target, quantities=dispensed)
        audit.record(
            ctx,
            action,
            target=prescription,
            patient_id=prescription.patient_id,
            from_status=from_status,
            to_status=target,
            quantities=dispensed,
        )
        events.publish(
            ctx,
            PrescriptionDispensed(
                prescription_id=prescription.id,
                organization_id=prescription.organization_id,
                patient_id=prescription.patient_id,
                status=target,
            ),
        )
    return target


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number == number.quantize(Decimal("0.001")) else None


def prescription_nominate_pharmacy(
    *, ctx: Ctx, prescription_id: uuid.UUID, pharmacy_department_id: uuid.UUID | None
) -> Prescription:
    """The signed-in patient chooses where to collect one of their signed prescriptions: a pharmacy of
    the prescribing organization, or none (any of its pharmacies). Only before dispensing begins: a
    pharmacy that has started on it finishes it."""
    from phb.patients.public import my_patient

    action = "medications.prescription.nominate_pharmacy"
    patient = my_patient(ctx)
    system = Ctx.system(reason="a patient chooses the pharmacy for their prescription")
    found = (
        Prescription.objects.for_system(system).filter(id=prescription_id, patient_id=patient.id).first()
        if patient is not None
        else None
    )
    if found is None or found.status == PrescriptionStatus.DRAFT:
        # SECURITY: someone else's prescription (or a draft nobody signed) does not exist for the patient.
        raise audit.denied(ctx, action, NotFound("no such prescription"), resource_id=str(prescription_id))
    at = ctx.as_patient_at(found.organization_id)
    department_id = _pharmacy(at, pharmacy_department_id)
    with audit.atomic():
        prescription = Prescription.objects.for_tenant(at).select_for_update().get(id=found.id)
        if prescription.status != PrescriptionStatus.SIGNED:
            raise Conflict(
                "the pharmacy can be chosen only before dispensing begins",
                code="PHARMACY_NOT_CHANGEABLE",
                prescription_status=prescription.status,
            )
        prescription.pharmacy_department_id = department_id
        prescription.save(update_fields=["pharmacy_department", "updated_at"])
        audit.record(
            at,
            action,
            target=prescription,
            patient_id=prescription.patient_id,
            pharmacy_department=str(department_id or ""),
        )
    return prescription
