"""Writes of the clinical record from other systems (the FHIR API, an import): an encounter that took
place elsewhere or earlier, and one observation of any category.

Same gate as every clinical write (`services.require_access`: the role and the care relationship; a
system client of the organization reaches the patients registered there), everything checked before
anything is written, written and audited in one transaction.

Observations:
- Vital signs (category vital-signs) whose code is in PHB's catalogue (`vitals.py`, plus the body
  temperature sites and the arterial saturation) are checked as PHB's own are: the catalogue's UCUM
  unit (no conversion), its physiological bounds, stored at its precision (whole numbers for counts
  and scores), flagged by PHB against the patient's age band. Each write makes a set of vital signs,
  as the chart shows them; no early warning score (a set of one). A critical value measured in the
  last day raises a critical alert to the encounter's attending clinician (or the recording user).
- The blood-pressure panel (85354-9 or 55284-4 with systolic 8480-6 and diastolic 8462-4) is stored as
  PHB stores blood pressure: two observations of one set; the systolic is the one returned.
- Any other observation is stored as sent: a quantity (three decimals) with its UCUM unit, a coding,
  a text (encrypted) or the reason its value is absent.
Only the status changes afterwards (final → amended, corrected or entered-in-error): a value is never
overwritten."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.utils import timezone

from phb.clinical import alerts, policies, vitals
from phb.clinical.history_services import _text
from phb.clinical.models import (
    Encounter,
    EncounterClass,
    EncounterSource,
    EncounterStatus,
    Observation,
    ObservationCategory,
    ObservationStatus,
    VitalSignsSet,
)
from phb.clinical.services import ENCOUNTER_MOVES, REASON_MAX_CHARS, _move, recorder_id, require_access
from phb.kernel import audit, memo
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.models import Patient

FUTURE_SKEW = dt.timedelta(minutes=5)
ALERT_WINDOW = dt.timedelta(hours=24)  # an older critical value is history, not an emergency
LOINC_CODE = re.compile(r"[0-9]{1,7}-[0-9]")
UCUM_UNIT = re.compile(r"[!-~]{1,40}")  # printable, no spaces; PHB does not hold UCUM's grammar
MAX_NUMBER = Decimal("9999999.999")  # the stored precision (10 digits, 3 decimals)
INTERPRETATIONS = ("N", "L", "H", "LL", "HH", "A", "AA")
DATA_ABSENT = ("unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined", "masked")
DATA_ABSENT += ("not-applicable", "unsupported", "as-text", "error", "not-a-number", "negative-infinity")
DATA_ABSENT += ("positive-infinity", "not-performed", "not-permitted")
# Other LOINC codes of a sign of the catalogue (the same bounds and unit).
VITAL_ALIASES = {
    "8331-1": vitals.TEMPERATURE,  # oral
    "8328-7": vitals.TEMPERATURE,  # axillary
    "8332-9": vitals.TEMPERATURE,  # rectal
    "8333-7": vitals.TEMPERATURE,  # tympanic
    "2708-6": vitals.SPO2,  # oxygen saturation in arterial blood
}
BP_PANELS = ("85354-9", "55284-4")
OBSERVATION_MOVES: dict[str, frozenset[str]] = {
    ObservationStatus.PRELIMINARY: frozenset(
        {ObservationStatus.FINAL, ObservationStatus.AMENDED, ObservationStatus.CORRECTED}
    ),
    ObservationStatus.FINAL: frozenset({ObservationStatus.AMENDED, ObservationStatus.CORRECTED}),
    ObservationStatus.AMENDED: frozenset({ObservationStatus.AMENDED, ObservationStatus.CORRECTED}),
    ObservationStatus.CORRECTED: frozenset({ObservationStatus.AMENDED, ObservationStatus.CORRECTED}),
    ObservationStatus.ENTERED_IN_ERROR: frozenset(),
}
for _status in list(OBSERVATION_MOVES)[:-1]:
    OBSERVATION_MOVES[_status] |= {ObservationStatus.ENTERED_IN_ERROR}


def _basis(access: policies.Access) -> dict[str, Any]:
    return {"break_glass": True} if access.break_glass else {}


def _care(ctx: Ctx, action: str, patient_id: uuid.UUID) -> policies.Access:
    """The care relationship, the role checked by the caller (vital signs: `clinical.vitals.record`
    is enough, as for PHB's own sets)."""
    access = policies.care_relationship(ctx, patient_id)
    if access is None:
        # SECURITY: no care relationship, another organization's patient, and no patient look the same.
        raise audit.denied(ctx, action, NotFound("no such patient"), resource_id=str(patient_id))
    return access


def _aware(field: str, value: Any, *, required: bool = False) -> dt.datetime | None:
    if value is None:
        if required:
            raise ValidationFailed.field(field, "give the time", code="required")
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationFailed.field(field, "a date and time with its time zone", code="invalid_datetime")
    return value


def _not_future(field: str, value: dt.datetime | None, now: dt.datetime) -> None:
    if value is not None and value > now + FUTURE_SKEW:
        raise ValidationFailed.field(field, "cannot be in the future", code="in_the_future")


@memo.cached()
def _born_on(patient_id: uuid.UUID) -> dt.date | None:
    return Patient.objects.filter(id=patient_id).values_list("birth_date", flat=True).first()


def _not_before_birth(field: str, value: dt.datetime | None, born: dt.date | None) -> None:
    if value is not None and born is not None and value.date() < born - dt.timedelta(days=1):
        raise ValidationFailed.field(field, "cannot be before the patient was born", code="before_birth")


@memo.cached()
def _encounter_row(ctx: Ctx, patient_id: uuid.UUID, encounter_id: uuid.UUID) -> Encounter | None:
    return Encounter.objects.for_tenant(ctx).filter(id=encounter_id, patient_id=patient_id).first()


def _encounter_of(ctx: Ctx, patient_id: uuid.UUID, encounter_id: uuid.UUID | None) -> Encounter | None:
    """The patient's encounter here, open or recorded from another system (whose findings arrive after
    it ended)."""
    if encounter_id is None:
        return None
    encounter = _encounter_row(ctx, patient_id, encounter_id)
    if encounter is None:
        raise ValidationFailed.field("encounter_id", "not an encounter of this patient here", code="unknown_encounter")
    if encounter.source != EncounterSource.EXTERNAL and encounter.status not in (
        EncounterStatus.PLANNED,
        EncounterStatus.IN_PROGRESS,
    ):
        raise Conflict(f"the encounter is {encounter.status}", code="ENCOUNTER_CLOSED")
    return encounter


# --------------------------------------------------------------------------------------------------
# Encounters recorded from another system
# --------------------------------------------------------------------------------------------------


def _encounter_values(
    status: Any, started_at: Any, ended_at: Any, now: dt.datetime
) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    if status not in EncounterStatus.values:
        raise ValidationFailed.field("status", f"one of {', '.join(EncounterStatus.values)}", code="invalid_choice")
    started, ended = _aware("started_at", started_at), _aware("ended_at", ended_at)
    _not_future("ended_at", ended, now)
    if ended is not None and (started is None or ended < started):
        raise ValidationFailed.field("ended_at", "an encounter ends after it starts", code="ends_before_start")
    if status in (EncounterStatus.IN_PROGRESS, EncounterStatus.FINISHED):
        if started is None:
            raise ValidationFailed.field("started_at", f"an encounter {status} has started", code="required")
        _not_future("started_at", started, now)
    if status == EncounterStatus.FINISHED and ended is None:
        raise ValidationFailed.field("ended_at", "a finished encounter has ended", code="required")
    if status in (EncounterStatus.PLANNED, EncounterStatus.IN_PROGRESS) and ended is not None:
        raise ValidationFailed.field("ended_at", f"an encounter {status} has not ended", code="not_ended")
    return status, started, ended


def encounter_record(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    encounter_class: str,
    status: str,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    reason: str = "",
    reason_system: str = "",
    reason_code: str = "",
    type_system: str = "",
    type_code: str = "",
    type_display: str = "",
) -> Encounter:
    """An encounter that took place (or is planned) elsewhere or earlier, recorded from another
    system: no department, no attending clinician; its class, status, period, type and reason as sent."""
    action = "clinical.encounter.record"
    access = require_access(ctx, action, patient_id, write=True)
    if encounter_class not in EncounterClass.values:
        raise ValidationFailed.field(
            "encounter_class", f"one of {', '.join(EncounterClass.values)}", code="invalid_choice"
        )
    status, started, ended = _encounter_values(status, started_at, ended_at, timezone.now())
    _not_before_birth("started_at", started, _born_on(patient_id))
    values = {
        "reason": _text("reason", reason, limit=REASON_MAX_CHARS),
        "reason_system": _text("reason_system", reason_system, limit=255),
        "reason_code": _text("reason_code", reason_code, limit=40),
        "type_system": _text("type_system", type_system, limit=255),
        "type_code": _text("type_code", type_code, limit=40),
        "type_display": _text("type_display", type_display, limit=500),
    }
    with audit.atomic():
        encounter = Encounter.objects.create(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            encounter_class=encounter_class,
            source=EncounterSource.EXTERNAL,
            status=status,
            started_at=started,
            ended_at=ended,
            created_by_id=recorder_id(ctx),
            **values,
        )
        audit.record(ctx, action, target=encounter, patient_id=patient_id, status=status, **_basis(access))
    return encounter


def encounter_record_update(
    *, ctx: Ctx, encounter_id: uuid.UUID, status: str, started_at: Any = None, ended_at: Any = None
) -> Encounter:
    """Another system's change of an encounter. One recorded from another system takes the status
    and period sent (checked as on creation); one of PHB's own moves along its status machine
    (its times are PHB's: a different period is refused)."""
    action = "clinical.encounter.record_update"
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    with audit.atomic():
        encounter = Encounter.objects.for_tenant(ctx).select_for_update().filter(id=encounter_id).first()
        if encounter is None:
            raise audit.denied(ctx, action, NotFound("no such encounter"), resource_id=str(encounter_id))
        access = require_access(ctx, action, encounter.patient_id, write=True)
        if encounter.source != EncounterSource.EXTERNAL:
            if (_aware("started_at", started_at), _aware("ended_at", ended_at)) != (
                encounter.started_at,
                encounter.ended_at,
            ) and status == encounter.status:
                raise Conflict("PHB sets the times of its own encounters", code="ENCOUNTER_TIMES")
            if status == encounter.status:
                return encounter
            _check_move("an encounter", ENCOUNTER_MOVES, encounter.status, status)
            reason = "cancelled from another system" if status == EncounterStatus.CANCELLED else ""
            return _move(ctx, encounter, status, action, reason=reason)
        status, started, ended = _encounter_values(status, started_at, ended_at, timezone.now())
        from_status = encounter.status
        changed = [
            name
            for name, value in (("status", status), ("started_at", started), ("ended_at", ended))
            if getattr(encounter, name) != value
        ]
        encounter.status, encounter.started_at, encounter.ended_at = status, started, ended
        if changed:
            encounter.save(update_fields=[*changed, "updated_at"])
        audit.record(
            ctx,
            action,
            target=encounter,
            patient_id=encounter.patient_id,
            fields=changed,
            from_status=from_status,
            to_status=status,
            **_basis(access),
        )
    return encounter


# --------------------------------------------------------------------------------------------------
# One observation of any category
# --------------------------------------------------------------------------------------------------


def _number(field: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationFailed.field(field, "a number", code="not_a_number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed.field(field, "a number", code="not_a_number") from None
    if not number.is_finite() or abs(number) > MAX_NUMBER:
        raise ValidationFailed.field(field, f"a number of at most {MAX_NUMBER}", code="out_of_range")
    return number.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _vital_sign(code: str) -> vitals.VitalSign | None:
    return vitals.BY_CODE.get(VITAL_ALIASES.get(code, code))


def _clean_vital(field: str, sign: vitals.VitalSign, value: dict[str, Any]) -> Decimal | str:
    """A vital sign's value checked against the catalogue: its unit, its bounds, its precision."""
    if sign.coded:
        code = value.get("code") or ""
        if code not in sign.coded:
            raise ValidationFailed.field(field, f"{sign.display}: one of {', '.join(sign.coded)}", code="unknown_code")
        return str(code)
    if value.get("numeric") is None:
        raise ValidationFailed.field(field, f"{sign.display} is a quantity", code="not_a_number")
    unit = value.get("unit") or ""
    if unit != sign.unit:
        raise ValidationFailed.field(
            f"{field}.unit", f"{sign.display} is recorded in {sign.unit or 'no unit'} (UCUM)", code="unknown_unit"
        )
    number = _number(field, value["numeric"])
    places = Decimal(1) if sign.whole else Decimal(1).scaleb(-sign.decimals)
    number = number.quantize(places, rounding=ROUND_HALF_UP)
    if (sign.minimum is not None and number < sign.minimum) or (sign.maximum is not None and number > sign.maximum):
        raise ValidationFailed.field(
            field,
            f"{sign.display} must be between {sign.minimum} and {sign.maximum} {sign.unit}".strip(),
            code="out_of_physiological_range",
        )
    return number


def _clean_value(field: str, value: dict[str, Any]) -> dict[str, Any]:
    """One of: a quantity (numeric, unit), a coding (code, system, display), a text, an absent reason."""
    kinds = [k for k in ("numeric", "code", "string", "absent") if value.get(k) not in (None, "")]
    if len(kinds) != 1:
        raise ValidationFailed.field(
            field, "one value: a quantity, a coding, a text, or the reason it is absent", code="required"
        )
    out: dict[str, Any] = {
        "value_numeric": None,
        "unit": "",
        "value_code": "",
        "value_system": "",
        "value_display": "",
        "value_string": None,
        "data_absent_reason": "",
    }
    kind = kinds[0]
    if kind == "numeric":
        out["value_numeric"] = _number(field, value["numeric"])
        unit = value.get("unit") or ""
        if unit and not UCUM_UNIT.fullmatch(unit):
            raise ValidationFailed.field(f"{field}.unit", "a UCUM unit code", code="unknown_unit")
        out["unit"] = unit
    elif kind == "code":
        out["value_code"] = _text(f"{field}.code", value["code"], limit=40)
        out["value_system"] = _text(f"{field}.system", value.get("system"), limit=255)
        out["value_display"] = _text(f"{field}.display", value.get("display"), limit=500)
        if not out["value_system"]:
            raise ValidationFailed.field(f"{field}.system", "name the code system of the code", code="required")
    elif kind == "string":
        out["value_string"] = _text(field, value["string"], limit=4_000)
    else:
        if value["absent"] not in DATA_ABSENT:
            raise ValidationFailed.field(f"{field}.absent", "a data-absent-reason code", code="invalid_choice")
        out["data_absent_reason"] = value["absent"]
    return out


def _reference(field: str, low: Any, high: Any) -> tuple[Decimal | None, Decimal | None]:
    low = None if low is None else _number(f"{field}.low", low)
    high = None if high is None else _number(f"{field}.high", high)
    if low is not None and high is not None and high < low:
        raise ValidationFailed.field(field, "the low bound is above the high", code="invalid_range")
    return low, high


def observation_record(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    category: str,
    code: str,
    effective_at: dt.datetime,
    value: dict[str, Any] | None = None,
    components: list[dict[str, Any]] | None = None,
    code_display: str = "",
    status: str = ObservationStatus.FINAL,
    encounter_id: uuid.UUID | None = None,
    interpretation: str = "",
    reference_low: Any = None,
    reference_high: Any = None,
) -> list[Observation]:
    """Record one observation (see the module's docstring); the blood-pressure panel, given as
    `components` [{code, value}, ...], records its two. Returns the rows written, the one that answers
    for the write first. Vital signs need `clinical.vitals.record` (or `.update`), anything else
    `clinical.record.update`."""
    action = "clinical.observation.record"
    allowed = policies.can_record_vitals(ctx) if category == "vital-signs" else policies.can_update(ctx)
    if not allowed:
        raise audit.denied(ctx, action, Forbidden("recording observations needs a clinical role"))
    # One transaction for the checks' reads and the writes: one BEGIN, one COMMIT and one tenancy
    # binding. Inside a caller's transaction (an imported Bundle) the checks read in it and the writes
    # are a block of their own, as they always were.
    nested = connection.in_atomic_block
    with contextlib.nullcontext() if nested else audit.atomic():
        access = _care(ctx, action, patient_id)
        if category not in ObservationCategory.values:
            raise ValidationFailed.field(
                "category", f"one of {', '.join(ObservationCategory.values)}", code="invalid_choice"
            )
        if status not in (s for s in ObservationStatus.values if s != ObservationStatus.ENTERED_IN_ERROR):
            raise ValidationFailed.field("status", "preliminary, final, amended or corrected", code="invalid_choice")
        if not isinstance(code, str) or not LOINC_CODE.fullmatch(code):
            raise ValidationFailed.field("code", "a LOINC code, e.g. 8867-4", code="invalid_code")
        code_display = _text("code_display", code_display, limit=500)
        now = timezone.now()
        effective = _aware("effective_at", effective_at, required=True)
        assert effective is not None
        _not_future("effective_at", effective, now)
        born = _born_on(patient_id)
        _not_before_birth("effective_at", effective, born)
        if interpretation and interpretation not in INTERPRETATIONS:
            raise ValidationFailed.field(
                "interpretation", f"one of {', '.join(INTERPRETATIONS)} (HL7 v3)", code="invalid_choice"
            )
        low, high = _reference("reference_range", reference_low, reference_high)

        # (code, display, cleaned value, catalogue sign) of each row to write
        parts: list[tuple[str, str, dict[str, Any], vitals.VitalSign | None]] = []
        if code in BP_PANELS:
            if category != ObservationCategory.VITAL_SIGNS:
                raise ValidationFailed.field("category", "a blood-pressure panel is vital-signs", code="invalid_choice")
            found = {c.get("code"): c for c in components or [] if isinstance(c, dict)}
            if value or set(found) != {vitals.SYSTOLIC_BP, vitals.DIASTOLIC_BP}:
                raise ValidationFailed.field(
                    "component", "the blood-pressure panel holds a systolic (8480-6) and a diastolic (8462-4) pressure"
                )
            for i, part_code in enumerate((vitals.SYSTOLIC_BP, vitals.DIASTOLIC_BP)):
                sign = vitals.BY_CODE[part_code]
                number = _clean_vital(f"component[{i}].value", sign, found[part_code].get("value") or {})
                parts.append((part_code, "", {"value_numeric": number, "unit": sign.unit}, sign))
            if parts[1][2]["value_numeric"] >= parts[0][2]["value_numeric"]:
                raise ValidationFailed.field(
                    "component",
                    "the diastolic pressure must be below the systolic",
                    code="diastolic_not_below_systolic",
                )
        else:
            if components:
                raise ValidationFailed.field(
                    "component", "PHB stores components only of the blood-pressure panel", code="unsupported"
                )
            sign = _vital_sign(code) if category == ObservationCategory.VITAL_SIGNS else None
            cleaned = _clean_value("value", value or {})
            if sign is not None and not cleaned["data_absent_reason"]:
                checked = _clean_vital("value", sign, value or {})
                cleaned.update(
                    value_numeric=checked if isinstance(checked, Decimal) else None,
                    value_code=checked if isinstance(checked, str) else "",
                    value_system="",
                    value_display="",
                )
            parts.append((code, code_display, cleaned, sign))

        vital = any(sign is not None for *_, sign in parts)
        band = vitals.age_band(born, effective.date())
        recorder = recorder_id(ctx)
        with audit.atomic() if nested else contextlib.nullcontext():
            encounter = _encounter_of(ctx, patient_id, encounter_id)
            vital_set = None
            if vital:
                vital_set = VitalSignsSet(
                    organization_id=ctx.organization_id,
                    patient_id=patient_id,
                    encounter=encounter,
                    effective_at=effective,
                    recorded_by_id=recorder,
                    age_band=band,
                )
                vital_set.save(force_insert=True)
            rows = []
            for part_code, display, cleaned, sign in parts:
                flag, row_low, row_high = interpretation, low, high
                measured = (
                    cleaned["value_numeric"] if cleaned.get("value_numeric") is not None else cleaned.get("value_code")
                )
                if sign is not None and measured not in (None, ""):
                    meaning = vitals.interpret(sign, measured, band)
                    flag = meaning.flag
                    row_low, row_high = meaning.reference if meaning.reference else (None, None)
                rows.append(
                    Observation(
                        organization_id=ctx.organization_id,
                        patient_id=patient_id,
                        encounter=encounter,
                        vital_set=vital_set,
                        category=category,
                        status=status,
                        code=part_code,
                        code_display=display,
                        effective_at=effective,
                        recorded_by_id=recorder,
                        interpretation=flag,
                        reference_low=row_low,
                        reference_high=row_high,
                        **{
                            "value_numeric": None,
                            "unit": "",
                            "value_code": "",
                            "value_system": "",
                            "value_display": "",
                            "value_string": None,
                            "data_absent_reason": "",
                            **cleaned,
                        },
                    )
                )
            for row in rows:
                row.save(force_insert=True)
            audit.record(
                ctx,
                action,
                target=rows[0],
                patient_id=patient_id,
                category=category,
                codes=[r.code for r in rows],
                **_basis(access),
            )
            findings = [{"code": r.code, "flag": r.interpretation} for r in rows if r.interpretation in vitals.CRITICAL]
            recipient = (encounter.attending_id if encounter else None) or (None if ctx.is_client else ctx.actor_id)
            if vital_set is not None and findings and recipient is not None and effective >= now - ALERT_WINDOW:
                # to the encounter's attending, else to the recording user (a client alone alerts no one)
                alerts.critical_alert_raise(ctx=ctx, vital_set=vital_set, encounter=encounter, findings=findings)
    return rows


def observation_status_update(*, ctx: Ctx, observation_id: uuid.UUID, status: str) -> Observation:
    """Another system's correction of an observation: its status only (final → amended, corrected or
    entered-in-error); the systolic and diastolic of a blood-pressure panel change together."""
    action = "clinical.observation.status_update"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    with audit.atomic():
        observation = Observation.objects.for_tenant(ctx).select_for_update().filter(id=observation_id).first()
        if observation is None:
            raise audit.denied(ctx, action, NotFound("no such observation"), resource_id=str(observation_id))
        vital = observation.category == ObservationCategory.VITAL_SIGNS
        if not (policies.can_record_vitals(ctx) if vital else policies.can_update(ctx)):
            raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
        access = _care(ctx, action, observation.patient_id)
        if status == observation.status:
            return observation
        _check_move("an observation", OBSERVATION_MOVES, observation.status, status)
        together = [observation]
        if observation.vital_set_id and observation.code in (vitals.SYSTOLIC_BP, vitals.DIASTOLIC_BP):
            together += list(
                Observation.objects.for_tenant(ctx)
                .select_for_update()
                .filter(vital_set_id=observation.vital_set_id, code__in=[vitals.SYSTOLIC_BP, vitals.DIASTOLIC_BP])
                .exclude(id=observation.id)
            )
        from_status = observation.status
        for row in together:
            row.status = status
            row.save(update_fields=["status", "updated_at"])
        audit.record(
            ctx,
            action,
            target=observation,
            patient_id=observation.patient_id,
            from_status=from_status,
            to_status=status,
            **_basis(access),
        )
    return observation


def _check_move(what: str, moves: dict[str, frozenset[str]], current: str, status: str) -> None:
    """Raises Conflict ILLEGAL_TRANSITION unless `moves` lets a record in `current` become `status`."""
    if status not in moves.get(current, frozenset()):
        raise Conflict(
            f"{what} that is {current} cannot become {status}",
            code="ILLEGAL_TRANSITION",
            from_status=current,
            to_status=status,
        )
