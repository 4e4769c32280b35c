"""Every write of a patient's allergies and intolerances, "no known allergies", past medical, surgical
and family history, social history and immunizations.

Each service checks the role and the care relationship first (`services.require_access`), validates
the whole input before any write (codes through `terminology.public`, dates not in the future nor
before birth), and writes and audits in one transaction. Nothing is deleted: a mistake is marked
entered in error, with a reason. Allergy writes and "no known allergies" lock the patient's row, so
that the two can never both be current and an allergy is never recorded twice at the same moment."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.db import IntegrityError
from django.utils import timezone

from phb.clinical import policies
from phb.clinical.models import (
    AlcoholUse,
    AllergyCategory,
    AllergyClinicalStatus,
    AllergyCriticality,
    AllergyIntolerance,
    AllergyType,
    AllergyVerificationStatus,
    EnteredInError,
    FamilyRelationship,
    HistoryEntry,
    HistoryKind,
    Immunization,
    ImmunizationNotDoneReason,
    ImmunizationRoute,
    ImmunizationSite,
    ImmunizationStatus,
    LivingSituation,
    NoKnownAllergies,
    ReactionSeverity,
    SocialHistory,
    TobaccoUse,
)
from phb.clinical.services import _is_clinician_here, recorder_id, require_access
from phb.kernel import audit, memo
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.models import Patient
from phb.terminology.public import validate_coding

CVX = "http://hl7.org/fhir/sid/cvx"
_CVX_CODE = re.compile(r"[0-9]{1,3}")
TEXT_MAX_CHARS = 500
NOTE_MAX_CHARS = 4_000
MAX_REACTIONS = 20
EARLIEST = dt.date(1900, 1, 1)
# An allergy that warns: active, and not refuted (nor entered in error).
WARNING_VERIFICATION = (AllergyVerificationStatus.UNCONFIRMED, AllergyVerificationStatus.CONFIRMED)

M = TypeVar("M", bound=EnteredInError)


# --------------------------------------------------------------------------------------------------
# Checking input
# --------------------------------------------------------------------------------------------------


def _text(field: str, value: Any, *, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed.field(field, "must be text", code="invalid")
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed.field(field, f"at most {limit} characters", code="too_long")
    return value


def _choice(field: str, value: Any, choices: Iterable[str], *, blank: bool = False) -> str:
    value = "" if value is None else value
    allowed = list(choices)
    if (value == "" and blank) or value in allowed:
        return str(value)
    raise ValidationFailed.field(field, f"one of {', '.join(allowed)}", code="invalid_choice")


def _date(field: str, value: Any, *, born_on: dt.date | None) -> dt.date | None:
    """A date of the patient's life: not in the future, not before their birth."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationFailed.field(field, "a date as YYYY-MM-DD", code="invalid_date") from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationFailed.field(field, "a date as YYYY-MM-DD", code="invalid_date")
    if value > timezone.localdate():
        raise ValidationFailed.field(field, "cannot be in the future", code="in_the_future")
    if value < (born_on or EARLIEST):
        raise ValidationFailed.field(field, "cannot be before the patient was born", code="before_birth")
    return value


def _whole(field: str, value: Any, *, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed.field(field, "a whole number", code="not_a_whole_number")
    if not low <= value <= high:
        raise ValidationFailed.field(field, f"between {low} and {high}", code="out_of_range")
    return value


def concept(field: str, value: Any, *, required: bool = True) -> tuple[str, str, str, str]:
    """(system, code, display, text) of a coded concept given as {system, code, display, text}: a
    coding checked by terminology (a code of a system PHB holds must exist there; any other system's
    code must be well formed; "cvx" names CDC's vaccine codes), free text, or both."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValidationFailed.field(field, "an object with system and code, or text", code="invalid")
    unknown = sorted(set(value) - {"system", "code", "display", "text"})
    if unknown:
        raise ValidationFailed.field(f"{field}.{unknown[0]}", "not a part of a coded concept", code="unknown_field")
    system = _text(f"{field}.system", value.get("system"), limit=255)
    code = _text(f"{field}.code", value.get("code"), limit=40)
    display = _text(f"{field}.display", value.get("display"), limit=TEXT_MAX_CHARS)
    text = _text(f"{field}.text", value.get("text"), limit=TEXT_MAX_CHARS)
    if not code:
        if system:
            raise ValidationFailed.field(f"{field}.code", "give the code of the system", code="required")
        if not text:
            if required:
                raise ValidationFailed.field(field, "give a code or describe it in text", code="required")
            return "", "", "", ""
        return "", "", "", text
    if not system:
        raise ValidationFailed.field(f"{field}.system", "name the code system of the code", code="required")
    if system.lower() in ("cvx", CVX):
        system = CVX
        if not _CVX_CODE.fullmatch(code):
            raise ValidationFailed.field(f"{field}.code", f"{code!r} is not a CVX code (e.g. 208)", code="invalid")
    coding = validate_coding(system, code, display, field=field)
    return coding.system, coding.code, coding.display, text


@memo.cached()
def _born_on(patient_id: uuid.UUID) -> dt.date | None:
    return Patient.objects.filter(id=patient_id).values_list("birth_date", flat=True).first()


def _lock_patient(patient_id: uuid.UUID) -> None:
    """SECURITY: serializes allergy and "no known allergies" writes of one patient (PostgreSQL)."""
    Patient.objects.select_for_update().filter(id=patient_id).values_list("id", flat=True).first()


def _for_change(ctx: Ctx, action: str, model: type[M], entry_id: uuid.UUID, what: str) -> tuple[M, policies.Access]:
    """The row, locked, after the role and care checks (audited refusals); entered in error: a conflict."""
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    entry = model.objects.for_tenant(ctx).select_for_update().filter(id=entry_id).first()  # type: ignore[attr-defined]
    if entry is None:
        raise audit.denied(ctx, action, NotFound(f"no such {what}"), resource_id=str(entry_id))
    access = require_access(ctx, action, entry.patient_id, write=True)
    if entry.entered_in_error_at is not None:
        raise Conflict(f"this {what} was entered in error: record it anew", code="ENTERED_IN_ERROR")
    return entry, access


def _basis(access: policies.Access) -> dict[str, Any]:
    return {"break_glass": True} if access.break_glass else {}


def _mark_entered_in_error(
    ctx: Ctx, action: str, model: type[M], entry_id: uuid.UUID, reason: str, what: str, **extra: Any
) -> M:
    reason = _text("reason", reason, limit=NOTE_MAX_CHARS)
    if not reason:
        raise ValidationFailed.field("reason", "say what was wrong", code="required")
    with audit.atomic():
        entry, access = _for_change(ctx, action, model, entry_id, what)
        entry.entered_in_error_at = timezone.now()
        entry.entered_in_error_by_id = recorder_id(ctx)
        entry.entered_in_error_reason = reason
        fields = ["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason", "updated_at"]
        for name, value in extra.items():
            setattr(entry, name, value)
            fields.append(name)
        entry.save(update_fields=fields)
        audit.record(ctx, action, target=entry, patient_id=entry.patient_id, **_basis(access))
    return entry


def _changed(entry: Any, values: Mapping[str, Any]) -> list[str]:
    fields = [name for name, value in values.items() if getattr(entry, name) != value]
    for name in fields:
        setattr(entry, name, values[name])
    return fields


# --------------------------------------------------------------------------------------------------
# Allergies and intolerances
# --------------------------------------------------------------------------------------------------


def _reactions(value: Any, *, born_on: dt.date | None) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValidationFailed.field("reactions", "a list of reactions", code="invalid")
    if len(value) > MAX_REACTIONS:
        raise ValidationFailed.field("reactions", f"at most {MAX_REACTIONS} reactions", code="too_many")
    cleaned = []
    for i, raw in enumerate(value):
        field = f"reactions[{i}]"
        if not isinstance(raw, Mapping):
            raise ValidationFailed.field(field, "a reaction: manifestation, severity, onset_on, note", code="invalid")
        unknown = sorted(set(raw) - {"manifestation", "severity", "onset_on", "note"})
        if unknown:
            raise ValidationFailed.field(f"{field}.{unknown[0]}", "not a part of a reaction", code="unknown_field")
        system, code, display, text = concept(f"{field}.manifestation", raw.get("manifestation"))
        onset = _date(f"{field}.onset_on", raw.get("onset_on"), born_on=born_on)
        cleaned.append(
            {
                "manifestation": {"system": system, "code": code, "display": display, "text": text},
                "severity": _choice(f"{field}.severity", raw.get("severity"), ReactionSeverity.values, blank=True),
                "onset_on": onset.isoformat() if onset else None,
                "note": _text(f"{field}.note", raw.get("note"), limit=NOTE_MAX_CHARS),
            }
        )
    return cleaned


def _allergy_values(data: Mapping[str, Any], *, born_on: dt.date | None) -> dict[str, Any]:
    system, code, display, text = concept("substance", data.get("substance"))
    verification = _choice("verification_status", data.get("verification_status"), AllergyVerificationStatus.values)
    if verification == AllergyVerificationStatus.ENTERED_IN_ERROR:
        raise ValidationFailed.field(
            "verification_status", "mark the allergy entered in error (it needs a reason)", code="use_entered_in_error"
        )
    onset_on = _date("onset_on", data.get("onset_on"), born_on=born_on)
    asserted_on = _date("asserted_on", data.get("asserted_on"), born_on=born_on) or timezone.localdate()
    if onset_on and onset_on > asserted_on:
        raise ValidationFailed.field("onset_on", "cannot be after the date it was asserted", code="after_asserted")
    return {
        "substance_system": system,
        "substance_code": code,
        "substance_display": display,
        "substance_text": text,
        "type": _choice("type", data.get("type"), AllergyType.values),
        "category": _choice("category", data.get("category"), AllergyCategory.values),
        "criticality": _choice("criticality", data.get("criticality"), AllergyCriticality.values, blank=True),
        "clinical_status": _choice("clinical_status", data.get("clinical_status"), AllergyClinicalStatus.values),
        "verification_status": verification,
        "reactions": _reactions(data.get("reactions"), born_on=born_on),
        "onset_on": onset_on,
        "asserted_on": asserted_on,
        "note": _text("note", data.get("note"), limit=NOTE_MAX_CHARS),
    }


def is_warning(allergy: AllergyIntolerance) -> bool:
    """Active, not refuted, not entered in error: it should stop a prescriber."""
    return (
        allergy.clinical_status == AllergyClinicalStatus.ACTIVE
        and allergy.verification_status in WARNING_VERIFICATION
        and allergy.entered_in_error_at is None
    )


def _same_substance(a: AllergyIntolerance, values: Mapping[str, Any]) -> bool:
    if values["substance_code"]:
        return (a.substance_system, a.substance_code) == (values["substance_system"], values["substance_code"])
    words = values["substance_text"].casefold()
    return words in (a.substance_text.casefold(), a.substance_display.casefold())


def _warning_allergies(ctx: Ctx, patient_id: uuid.UUID) -> list[AllergyIntolerance]:
    return list(
        AllergyIntolerance.objects.for_tenant(ctx).filter(
            patient_id=patient_id,
            clinical_status=AllergyClinicalStatus.ACTIVE,
            verification_status__in=WARNING_VERIFICATION,
            entered_in_error_at__isnull=True,
        )
    )


def _refuse_duplicate(ctx: Ctx, patient_id: uuid.UUID, values: Mapping[str, Any], *, own_id: Any = None) -> None:
    for other in _warning_allergies(ctx, patient_id):
        if other.id != own_id and _same_substance(other, values):
            raise Conflict(
                "the patient already has an active allergy to this substance: update it",
                code="ALLERGY_DUPLICATE",
                allergy_id=str(other.id),
            )


def _retire_no_known_allergies(ctx: Ctx, patient_id: uuid.UUID, reason: str) -> NoKnownAllergies | None:
    current = NoKnownAllergies.objects.for_tenant(ctx).filter(patient_id=patient_id, retired_at__isnull=True).first()
    if current is not None:
        current.retired_at, current.retired_by_id, current.retired_reason = timezone.now(), recorder_id(ctx), reason
        current.save(update_fields=["retired_at", "retired_by", "retired_reason", "updated_at"])
        audit.record(ctx, "clinical.no_known_allergies.retire", target=current, patient_id=patient_id, reason=reason)
    return current


def _allergy_codes(allergy: AllergyIntolerance) -> dict[str, Any]:
    return {"substance": allergy.substance_code} if allergy.substance_code else {}


def allergy_create(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    substance: Mapping[str, Any],
    category: str,
    type: str = AllergyType.ALLERGY,  # FHIR's name
    criticality: str = "",
    clinical_status: str = AllergyClinicalStatus.ACTIVE,
    verification_status: str = AllergyVerificationStatus.UNCONFIRMED,
    reactions: list[Mapping[str, Any]] | None = None,
    onset_on: dt.date | None = None,
    asserted_on: dt.date | None = None,
    note: str = "",
) -> AllergyIntolerance:
    """Record an allergy or intolerance. An active one to a substance the patient already has an active
    allergy to is `409 ALLERGY_DUPLICATE`; an active one retires a current "no known allergies"."""
    action = "clinical.allergy.create"
    access = require_access(ctx, action, patient_id, write=True)
    values = _allergy_values(
        {
            "substance": substance,
            "category": category,
            "type": type,
            "criticality": criticality,
            "clinical_status": clinical_status,
            "verification_status": verification_status,
            "reactions": reactions,
            "onset_on": onset_on,
            "asserted_on": asserted_on,
            "note": note,
        },
        born_on=_born_on(patient_id),
    )
    try:
        with audit.atomic():
            _lock_patient(patient_id)
            allergy = AllergyIntolerance(
                organization_id=ctx.organization_id, patient_id=patient_id, recorded_by_id=recorder_id(ctx), **values
            )
            if is_warning(allergy):
                _refuse_duplicate(ctx, patient_id, values)
                _retire_no_known_allergies(ctx, patient_id, "allergy_recorded")
            allergy.save(force_insert=True)
            audit.record(
                ctx, action, target=allergy, patient_id=patient_id, **_allergy_codes(allergy), **_basis(access)
            )
    except IntegrityError:  # recorded at the same moment by someone else (the partial unique constraint)
        raise Conflict(
            "the patient already has an active allergy to this substance", code="ALLERGY_DUPLICATE"
        ) from None
    return allergy


ALLERGY_FIELDS = (
    "substance",
    "category",
    "type",
    "criticality",
    "clinical_status",
    "verification_status",
    "reactions",
    "onset_on",
    "asserted_on",
    "note",
)


def _allergy_as_input(allergy: AllergyIntolerance) -> dict[str, Any]:
    return {
        "substance": {
            "system": allergy.substance_system,
            "code": allergy.substance_code,
            "display": allergy.substance_display,
            "text": allergy.substance_text,
        },
        **{name: getattr(allergy, name) for name in ALLERGY_FIELDS if name != "substance"},
    }


def _only(changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationFailed.field(unknown[0], "cannot be changed here", code="unknown_field")


def allergy_update(*, ctx: Ctx, allergy_id: uuid.UUID, **changes: Any) -> AllergyIntolerance:
    """Change an allergy (its status, criticality, reactions, ...), checked as a whole again. Becoming
    active retires a current "no known allergies"; a duplicate active allergy is `409`."""
    action = "clinical.allergy.update"
    _only(changes, ALLERGY_FIELDS)
    try:
        with audit.atomic():
            allergy, access = _for_change(ctx, action, AllergyIntolerance, allergy_id, "allergy")
            _lock_patient(allergy.patient_id)
            values = _allergy_values({**_allergy_as_input(allergy), **changes}, born_on=_born_on(allergy.patient_id))
            fields = _changed(allergy, values)
            if is_warning(allergy):
                _refuse_duplicate(ctx, allergy.patient_id, values, own_id=allergy.id)
                _retire_no_known_allergies(ctx, allergy.patient_id, "allergy_recorded")
            if fields:
                allergy.save(update_fields=[*fields, "updated_at"])
            audit.record(
                ctx, action, target=allergy, patient_id=allergy.patient_id, fields=sorted(fields), **_basis(access)
            )
    except IntegrityError:
        raise Conflict(
            "the patient already has an active allergy to this substance", code="ALLERGY_DUPLICATE"
        ) from None
    return allergy


def allergy_mark_entered_in_error(*, ctx: Ctx, allergy_id: uuid.UUID, reason: str) -> AllergyIntolerance:
    """The allergy was recorded by mistake: kept, marked (who, when, why), and no longer shown or warned of."""
    return _mark_entered_in_error(
        ctx,
        "clinical.allergy.entered_in_error",
        AllergyIntolerance,
        allergy_id,
        reason,
        "allergy",
        verification_status=AllergyVerificationStatus.ENTERED_IN_ERROR,
    )


def no_known_allergies_record(*, ctx: Ctx, patient_id: uuid.UUID, note: str = "") -> NoKnownAllergies:
    """Assert that the patient has no known allergies (who, when). With active allergies on record it
    is `409 ACTIVE_ALLERGIES`; a previous assertion is retired as reasserted."""
    action = "clinical.no_known_allergies.record"
    access = require_access(ctx, action, patient_id, write=True)
    note = _text("note", note, limit=NOTE_MAX_CHARS)
    with audit.atomic():
        _lock_patient(patient_id)
        active = _warning_allergies(ctx, patient_id)
        if active:
            raise Conflict(
                "the patient has active allergies on record: resolve, refute or correct them first",
                code="ACTIVE_ALLERGIES",
                allergy_ids=[str(a.id) for a in active],
            )
        _retire_no_known_allergies(ctx, patient_id, "reasserted")
        statement = NoKnownAllergies.objects.create(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            asserted_by_id=ctx.actor_id,
            asserted_at=timezone.now(),
            note=note,
        )
        audit.record(ctx, action, target=statement, patient_id=patient_id, **_basis(access))
    return statement


def no_known_allergies_mark_entered_in_error(*, ctx: Ctx, statement_id: uuid.UUID) -> NoKnownAllergies:
    """A current "no known allergies" recorded by mistake is retired as entered in error."""
    action = "clinical.no_known_allergies.entered_in_error"
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    with audit.atomic():
        statement = NoKnownAllergies.objects.for_tenant(ctx).select_for_update().filter(id=statement_id).first()
        if statement is None:
            raise audit.denied(ctx, action, NotFound("no such statement"), resource_id=str(statement_id))
        access = require_access(ctx, action, statement.patient_id, write=True)
        if statement.retired_at is not None:
            raise Conflict("this statement is no longer current", code="NO_KNOWN_ALLERGIES_RETIRED")
        statement.retired_at, statement.retired_by_id = timezone.now(), ctx.actor_id
        statement.retired_reason = "entered_in_error"
        statement.save(update_fields=["retired_at", "retired_by", "retired_reason", "updated_at"])
        audit.record(ctx, action, target=statement, patient_id=statement.patient_id, **_basis(access))
    return statement


# --------------------------------------------------------------------------------------------------
# Medical, surgical and family history
# --------------------------------------------------------------------------------------------------

HISTORY_FIELDS = (
    "concept",
    "onset_on",
    "resolved_on",
    "performed_on",
    "relationship",
    "onset_age",
    "relative_deceased",
    "note",
)
_KIND_FIELDS = {
    HistoryKind.MEDICAL: {"onset_on", "resolved_on"},
    HistoryKind.SURGICAL: {"performed_on"},
    HistoryKind.FAMILY: {"relationship", "onset_age", "relative_deceased"},
}


def _history_values(kind: str, data: Mapping[str, Any], *, born_on: dt.date | None) -> dict[str, Any]:
    for name in set().union(*_KIND_FIELDS.values()) - _KIND_FIELDS[kind]:  # type: ignore[index]
        if data.get(name) not in (None, ""):
            raise ValidationFailed.field(name, f"not a part of {kind} history", code="not_for_kind")
    system, code, display, text = concept("concept", data.get("concept"))
    values: dict[str, Any] = {
        "code_system": system,
        "code": code,
        "code_display": display,
        "text": text,
        "note": _text("note", data.get("note"), limit=NOTE_MAX_CHARS),
        "onset_on": None,
        "resolved_on": None,
        "performed_on": None,
        "relationship": "",
        "onset_age": None,
        "relative_deceased": None,
    }
    if kind == HistoryKind.MEDICAL:
        values["onset_on"] = _date("onset_on", data.get("onset_on"), born_on=born_on)
        values["resolved_on"] = _date("resolved_on", data.get("resolved_on"), born_on=born_on)
        if values["onset_on"] and values["resolved_on"] and values["resolved_on"] < values["onset_on"]:
            raise ValidationFailed.field("resolved_on", "cannot be before the onset", code="before_onset")
    elif kind == HistoryKind.SURGICAL:
        values["performed_on"] = _date("performed_on", data.get("performed_on"), born_on=born_on)
    else:
        values["relationship"] = _choice("relationship", data.get("relationship"), FamilyRelationship.values)
        values["onset_age"] = _whole("onset_age", data.get("onset_age"), low=0, high=130)
        deceased = data.get("relative_deceased")
        if deceased is not None and not isinstance(deceased, bool):
            raise ValidationFailed.field("relative_deceased", "true, false or empty", code="invalid")
        values["relative_deceased"] = deceased
    return values


def history_entry_create(*, ctx: Ctx, patient_id: uuid.UUID, kind: str, **data: Any) -> HistoryEntry:
    """Add a line to the patient's medical, surgical or family history."""
    action = "clinical.history.create"
    access = require_access(ctx, action, patient_id, write=True)
    kind = _choice("kind", kind, HistoryKind.values)
    _only(data, HISTORY_FIELDS)
    values = _history_values(kind, data, born_on=_born_on(patient_id))
    with audit.atomic():
        entry = HistoryEntry.objects.create(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            recorded_by_id=recorder_id(ctx),
            kind=kind,
            **values,
        )
        codes = {"code": entry.code} if entry.code else {}
        audit.record(ctx, action, target=entry, patient_id=patient_id, kind=kind, **codes, **_basis(access))
    return entry


def _history_as_input(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "concept": {"system": entry.code_system, "code": entry.code, "display": entry.code_display, "text": entry.text},
        **{name: getattr(entry, name) for name in HISTORY_FIELDS if name != "concept"},
    }


def history_entry_update(*, ctx: Ctx, entry_id: uuid.UUID, **changes: Any) -> HistoryEntry:
    """Correct or complete a line of history (its kind stays), checked as a whole again."""
    action = "clinical.history.update"
    _only(changes, HISTORY_FIELDS)
    with audit.atomic():
        entry, access = _for_change(ctx, action, HistoryEntry, entry_id, "history entry")
        merged = {**_history_as_input(entry), **changes}
        values = _history_values(entry.kind, merged, born_on=_born_on(entry.patient_id))
        fields = _changed(entry, values)
        if fields:
            entry.save(update_fields=[*fields, "updated_at"])
        audit.record(ctx, action, target=entry, patient_id=entry.patient_id, fields=sorted(fields), **_basis(access))
    return entry


def history_entry_mark_entered_in_error(*, ctx: Ctx, entry_id: uuid.UUID, reason: str) -> HistoryEntry:
    """A line of history recorded by mistake: kept, marked, and no longer shown."""
    return _mark_entered_in_error(
        ctx, "clinical.history.entered_in_error", HistoryEntry, entry_id, reason, "history entry"
    )


# --------------------------------------------------------------------------------------------------
# Social history
# --------------------------------------------------------------------------------------------------


def _decimal(field: str, value: Any, *, low: Decimal, high: Decimal) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationFailed.field(field, "a number", code="not_a_number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed.field(field, "a number", code="not_a_number") from None
    if not number.is_finite() or not low <= number <= high:
        raise ValidationFailed.field(field, f"between {low} and {high}", code="out_of_range")
    return number.quantize(Decimal("0.1"))


def social_history_record(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    recorded_on: dt.date | None = None,
    tobacco: str = TobaccoUse.UNKNOWN,
    tobacco_pack_years: Any = None,
    alcohol: str = AlcoholUse.UNKNOWN,
    alcohol_units_per_week: int | None = None,
    other_substances: str = "",
    occupation: str = "",
    living_situation: str = LivingSituation.UNKNOWN,
    note: str = "",
) -> SocialHistory:
    """Record the patient's social history as it is today (or on `recorded_on`): a new version; the
    previous ones stay."""
    action = "clinical.social_history.record"
    access = require_access(ctx, action, patient_id, write=True)
    tobacco = _choice("tobacco", tobacco, TobaccoUse.values)
    alcohol = _choice("alcohol", alcohol, AlcoholUse.values)
    pack_years = _decimal("tobacco_pack_years", tobacco_pack_years, low=Decimal(0), high=Decimal(300))
    if pack_years is not None and tobacco not in (TobaccoUse.CURRENT, TobaccoUse.FORMER):
        raise ValidationFailed.field("tobacco_pack_years", "only for a current or former smoker", code="not_a_smoker")
    units = _whole("alcohol_units_per_week", alcohol_units_per_week, low=0, high=500)
    if units and alcohol in (AlcoholUse.NONE, AlcoholUse.FORMER):
        raise ValidationFailed.field("alcohol_units_per_week", f"the patient drinks {alcohol}", code="not_a_drinker")
    values = {
        "recorded_on": _date("recorded_on", recorded_on, born_on=_born_on(patient_id)) or timezone.localdate(),
        "tobacco": tobacco,
        "tobacco_pack_years": pack_years,
        "alcohol": alcohol,
        "alcohol_units_per_week": units,
        "other_substances": _text("other_substances", other_substances, limit=TEXT_MAX_CHARS),
        "occupation": _text("occupation", occupation, limit=TEXT_MAX_CHARS),
        "living_situation": _choice("living_situation", living_situation, LivingSituation.values),
        "note": _text("note", note, limit=NOTE_MAX_CHARS),
    }
    with audit.atomic():
        version = SocialHistory.objects.create(
            organization_id=ctx.organization_id, patient_id=patient_id, recorded_by_id=recorder_id(ctx), **values
        )
        audit.record(ctx, action, target=version, patient_id=patient_id, **_basis(access))
    return version


def social_history_mark_entered_in_error(*, ctx: Ctx, version_id: uuid.UUID, reason: str) -> SocialHistory:
    """A version recorded by mistake: kept, marked; the previous version is current again."""
    return _mark_entered_in_error(
        ctx, "clinical.social_history.entered_in_error", SocialHistory, version_id, reason, "social history"
    )


# --------------------------------------------------------------------------------------------------
# Immunizations
# --------------------------------------------------------------------------------------------------

IMMUNIZATION_FIELDS = (
    "vaccine",
    "occurred_on",
    "status",
    "not_done_reason",
    "dose_number",
    "lot_number",
    "site",
    "route",
    "performer_id",
    "performer_text",
    "reported",
    "note",
)


def _immunization_values(ctx: Ctx, data: Mapping[str, Any], *, born_on: dt.date | None) -> dict[str, Any]:
    system, code, display, text = concept("vaccine", data.get("vaccine"))
    status = _choice("status", data.get("status") or ImmunizationStatus.COMPLETED, ImmunizationStatus.values)
    reason = _choice("not_done_reason", data.get("not_done_reason"), ImmunizationNotDoneReason.values, blank=True)
    occurred_on = _date("occurred_on", data.get("occurred_on"), born_on=born_on)
    if occurred_on is None:
        raise ValidationFailed.field("occurred_on", "when it was given (or when it was not)", code="required")
    reported = data.get("reported") or False
    if not isinstance(reported, bool):
        raise ValidationFailed.field("reported", "true or false", code="invalid")
    values: dict[str, Any] = {
        "vaccine_system": system,
        "vaccine_code": code,
        "vaccine_display": display,
        "vaccine_text": text,
        "status": status,
        "not_done_reason": reason,
        "occurred_on": occurred_on,
        "dose_number": _whole("dose_number", data.get("dose_number"), low=1, high=20),
        "lot_number": _text("lot_number", data.get("lot_number"), limit=40),
        "site": _choice("site", data.get("site"), ImmunizationSite.values, blank=True),
        "route": _choice("route", data.get("route"), ImmunizationRoute.values, blank=True),
        "performer_id": data.get("performer_id"),
        "performer_text": _text("performer_text", data.get("performer_text"), limit=TEXT_MAX_CHARS),
        "reported": reported,
        "note": _text("note", data.get("note"), limit=NOTE_MAX_CHARS),
    }
    if status == ImmunizationStatus.NOT_DONE:
        if not reason:
            raise ValidationFailed.field("not_done_reason", "say why it was not given", code="required")
        for name in ("lot_number", "site", "route", "performer_text"):
            if values[name]:
                raise ValidationFailed.field(name, "not for a vaccination not given", code="not_for_not_done")
        values["performer_id"] = None
    elif reason:
        raise ValidationFailed.field("not_done_reason", "only for a vaccination not given", code="not_for_completed")
    elif values["performer_id"] is None and not values["performer_text"] and not reported and not ctx.is_client:
        values["performer_id"] = ctx.actor_id  # given here, by whoever records it (a client names no one)
    if values["performer_id"] is not None:
        performer_id = values["performer_id"]
        if not isinstance(performer_id, uuid.UUID):
            try:
                performer_id = uuid.UUID(str(performer_id))
            except ValueError:
                raise ValidationFailed.field("performer_id", "not a clinician here", code="not_a_clinician") from None
        if performer_id != ctx.actor_id and not _is_clinician_here(ctx, performer_id):
            raise ValidationFailed.field("performer_id", "not a clinician of this organization", code="not_a_clinician")
        values["performer_id"] = performer_id
    return values


def immunization_record(*, ctx: Ctx, patient_id: uuid.UUID, **data: Any) -> Immunization:
    """Record a vaccination given here or reported, or one not given (with the reason)."""
    action = "clinical.immunization.record"
    access = require_access(ctx, action, patient_id, write=True)
    _only(data, IMMUNIZATION_FIELDS)
    values = _immunization_values(ctx, data, born_on=_born_on(patient_id))
    with audit.atomic():
        immunization = Immunization.objects.create(
            organization_id=ctx.organization_id, patient_id=patient_id, recorded_by_id=recorder_id(ctx), **values
        )
        codes = {"vaccine": immunization.vaccine_code} if immunization.vaccine_code else {}
        audit.record(ctx, action, target=immunization, patient_id=patient_id, **codes, **_basis(access))
    return immunization


def _immunization_as_input(immunization: Immunization) -> dict[str, Any]:
    return {
        "vaccine": {
            "system": immunization.vaccine_system,
            "code": immunization.vaccine_code,
            "display": immunization.vaccine_display,
            "text": immunization.vaccine_text,
        },
        **{name: getattr(immunization, name) for name in IMMUNIZATION_FIELDS if name != "vaccine"},
    }


def immunization_update(*, ctx: Ctx, immunization_id: uuid.UUID, **changes: Any) -> Immunization:
    """Correct or complete a vaccination record, checked as a whole again."""
    action = "clinical.immunization.update"
    _only(changes, IMMUNIZATION_FIELDS)
    with audit.atomic():
        immunization, access = _for_change(ctx, action, Immunization, immunization_id, "immunization")
        merged = {**_immunization_as_input(immunization), **changes}
        values = _immunization_values(ctx, merged, born_on=_born_on(immunization.patient_id))
        fields = _changed(immunization, values)
        if fields:
            immunization.save(update_fields=[*[f.removesuffix("_id") for f in fields], "updated_at"])
        audit.record(
            ctx,
            action,
            target=immunization,
            patient_id=immunization.patient_id,
            fields=sorted(fields),
            **_basis(access),
        )
    return immunization


def immunization_mark_entered_in_error(*, ctx: Ctx, immunization_id: uuid.UUID, reason: str) -> Immunization:
    """A vaccination recorded by mistake: kept, marked, and no longer shown."""
    return _mark_entered_in_error(
        ctx, "clinical.immunization.entered_in_error", Immunization, immunization_id, reason, "immunization"
    )
