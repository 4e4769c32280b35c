"""What the medications app does when its events are delivered (by the outbox, at least once: every
handler is idempotent or claims its work): tell the prescriber of a repeat request, the patient of
the decision, the prescriber of repeated missed doses."""

from __future__ import annotations

from phb.kernel.events import subscriber
from phb.medications import notices
from phb.medications.events import DosesMissedRepeatedly, RepeatDecided, RepeatRequested


@subscriber(RepeatRequested)
def repeat_request_to_prescriber(event: RepeatRequested) -> None:
    notices.repeat_requested_notify(request_id=event.request_id, organization_id=event.organization_id)


@subscriber(RepeatDecided)
def repeat_decision_to_patient(event: RepeatDecided) -> None:
    notices.repeat_decided_notify(request_id=event.request_id, organization_id=event.organization_id)


@subscriber(DosesMissedRepeatedly)
def missed_doses_to_prescriber(event: DosesMissedRepeatedly) -> None:
    notices.doses_missed_notify(episode_id=event.episode_id, organization_id=event.organization_id)
