"""The prescription status machine, as data: which status may follow which, and by which action.
Anything not in the table is an illegal transition (409 ILLEGAL_TRANSITION).

    draft ──sign──▶ signed ──dispense──▶ partially_dispensed ──dispense──▶ dispensed
      │               │  └──────────────dispense──────────────────────────────▲
      └─cancel─▶ cancelled ◀─cancel/replace─ signed, partially_dispensed
                 expired ◀─expire─ signed, partially_dispensed"""

from __future__ import annotations

from dataclasses import dataclass

from phb.kernel.errors import Conflict
from phb.medications.models import PrescriptionStatus as S


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    action: str  # the verb in the audit action ("medications.prescription.<action>")


TABLE: tuple[Transition, ...] = (
    Transition(S.DRAFT, S.SIGNED, "sign"),
    Transition(S.DRAFT, S.CANCELLED, "cancel"),
    Transition(S.SIGNED, S.PARTIALLY_DISPENSED, "dispense"),
    Transition(S.SIGNED, S.DISPENSED, "dispense"),
    Transition(S.PARTIALLY_DISPENSED, S.PARTIALLY_DISPENSED, "dispense"),
    Transition(S.PARTIALLY_DISPENSED, S.DISPENSED, "dispense"),
    Transition(S.SIGNED, S.CANCELLED, "cancel"),
    Transition(S.PARTIALLY_DISPENSED, S.CANCELLED, "cancel"),
    Transition(S.SIGNED, S.EXPIRED, "expire"),
    Transition(S.PARTIALLY_DISPENSED, S.EXPIRED, "expire"),
)

TERMINAL = frozenset(S.values) - {t.source for t in TABLE}


def find(source: str, target: str) -> Transition | None:
    """The allowed transition from `source` to `target`, or None."""
    for transition in TABLE:
        if transition.source == source and transition.target == target:
            return transition
    return None


def require(source: str, target: str) -> Transition:
    """The transition from `source` to `target`; ILLEGAL_TRANSITION when the table has none."""
    transition = find(source, target)
    if transition is None:
        raise Conflict(
            f"a prescription that is {source} cannot become {target}",
            code="ILLEGAL_TRANSITION",
            from_status=source,
            to_status=target,
        )
    return transition
