"""The appointment status machine, as data: which status may follow which, who may make the change
(a permission), and whether it must say why. Anything not in the table is an illegal transition."""

from __future__ import annotations

from dataclasses import dataclass

from phb.scheduling.models import AppointmentStatus as S

MANAGE = "scheduling.appointment.manage"
# Checking in alone: desk staff hold it with MANAGE; a self check-in kiosk holds nothing else.
CHECK_IN = "scheduling.appointment.check_in"
TREAT = "clinical.record.update"


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    action: str  # the verb in the API path and in the audit action
    permission: str
    reason_required: bool = False
    patient_may: bool = False  # the patient may make it on their own appointment (before the cut-off)
    # The practitioner the appointment is with (or, from a department's queue, becomes with) may make it with
    # the clinical permission instead of `permission`: a doctor accepts what is booked with them.
    practitioner_may: bool = False
    # Made only by its own service, which does what the change leads to: `appointment_check_in` issues the
    # queue ticket, `appointment_reschedule` and `appointment_refer` book the next appointment. The generic
    # change of status refuses it.
    own_service: bool = False


TABLE: tuple[Transition, ...] = (
    Transition(S.PENDING, S.CONFIRMED, "confirm", MANAGE, practitioner_may=True),
    Transition(S.PENDING, S.REJECTED, "reject", MANAGE, reason_required=True),
    Transition(S.PENDING, S.CANCELLED, "cancel", MANAGE, reason_required=True, patient_may=True),
    Transition(
        S.PENDING, S.RESCHEDULED, "reschedule", MANAGE, reason_required=True, patient_may=True, own_service=True
    ),
    Transition(S.PENDING, S.REFERRED, "refer", MANAGE, reason_required=True, own_service=True),
    Transition(S.PENDING, S.NO_SHOW, "no-show", MANAGE),
    # A patient who arrives for a pending appointment confirms it by arriving (a kiosk cannot confirm).
    Transition(S.PENDING, S.CHECKED_IN, "check-in", CHECK_IN, own_service=True),
    Transition(S.CONFIRMED, S.CHECKED_IN, "check-in", CHECK_IN, own_service=True),
    Transition(S.CONFIRMED, S.CANCELLED, "cancel", MANAGE, reason_required=True, patient_may=True),
    Transition(S.CONFIRMED, S.NO_SHOW, "no-show", MANAGE),
    Transition(
        S.CONFIRMED, S.RESCHEDULED, "reschedule", MANAGE, reason_required=True, patient_may=True, own_service=True
    ),
    Transition(S.CONFIRMED, S.REFERRED, "refer", MANAGE, reason_required=True, own_service=True),
    Transition(S.CHECKED_IN, S.IN_PROGRESS, "start", TREAT),
    Transition(S.CHECKED_IN, S.CANCELLED, "cancel", MANAGE, reason_required=True),
    Transition(S.IN_PROGRESS, S.COMPLETED, "complete", TREAT),
    Transition(S.IN_PROGRESS, S.REFERRED, "refer", TREAT, reason_required=True, own_service=True),
)

TERMINAL = frozenset(S.values) - {t.source for t in TABLE}
ACTIONS: dict[str, str] = {t.action: t.target for t in TABLE}  # action -> target status


def find(source: str, target: str) -> Transition | None:
    """The allowed transition from `source` to `target`, or None."""
    for transition in TABLE:
        if transition.source == source and transition.target == target:
            return transition
    return None
