"""Forms of the clinical record's portal pages: a patient's symptom report."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms

from phb.clinical import symptoms
from phb.clinical.models import BodyLocation

_SEPARATORS = re.compile(r"[,;\n]")


def _split(text: str) -> list[str]:
    return [part.strip() for part in _SEPARATORS.split(text or "") if part.strip()]


class SymptomReportForm(forms.Form):
    """A symptom, how bad, since when, where, what makes it worse or better, what comes with it, and
    an optional photo. The service checks everything again; this form only shapes the page."""

    hospital = forms.ChoiceField(label="Which hospital's care team should see it?")
    symptom_code = forms.ChoiceField(label="Symptom", required=False)
    symptom_text = forms.CharField(
        label="Describe it in your own words",
        required=False,
        max_length=symptoms.SYMPTOM_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when the symptom is not in the list.",
    )
    severity = forms.TypedChoiceField(
        label="How bad is it now? 0 is none, 10 the worst you can imagine",
        choices=[("", "—")] + [(str(i), str(i)) for i in range(11)],
        coerce=int,
        empty_value=None,
    )
    onset_days_ago = forms.IntegerField(
        label="It started about how many days ago?",
        required=False,
        min_value=0,
        max_value=symptoms.ONSET_DAYS_MAX,
        help_text="0 for today. Or give the date and time below instead.",
    )
    onset_at = forms.DateTimeField(
        label="Or: when did it start?",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    body_location = forms.ChoiceField(
        label="Where do you feel it?", required=False, choices=[("", "—"), *BodyLocation.choices]
    )
    body_location_detail = forms.CharField(label="More about where", required=False, max_length=symptoms.DETAIL_MAX)
    triggers = forms.CharField(
        label="What brings it on or makes it worse?",
        required=False,
        max_length=1500,
        help_text="Separate several with commas.",
    )
    relief_factors = forms.CharField(
        label="What makes it better?", required=False, max_length=1500, help_text="Separate several with commas."
    )
    associated = forms.MultipleChoiceField(
        label="Other symptoms that come with it", required=False, widget=forms.CheckboxSelectMultiple
    )
    associated_other = forms.CharField(
        label="Other symptoms not in the list", required=False, max_length=1500, help_text="Separate with commas."
    )
    photo = forms.FileField(
        label="A photo (optional)",
        required=False,
        help_text="For example of a rash or a swelling. JPEG, PNG or WebP, at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    # service error field -> form field
    FIELDS = {
        "organization_id": "hospital",
        "symptom": "symptom_code",
        "onset": "onset_days_ago",
        "associated_symptoms": "associated_other",
    }

    def __init__(self, *args: Any, hospitals: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        listed = [(s.code, s.name) for s in sorted(symptoms.symptom_catalogue().values(), key=lambda s: s.name)]
        self.fields["hospital"].choices = hospitals if len(hospitals) == 1 else [("", "—"), *hospitals]
        self.fields["symptom_code"].choices = [("", "— not in the list —"), *listed]
        self.fields["associated"].choices = listed

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        upload = data.get("photo")
        return {
            "organization_id": uuid.UUID(data["hospital"]),
            "symptom_code": data.get("symptom_code") or "",
            "symptom_text": data.get("symptom_text") or "",
            "severity": data.get("severity"),
            "onset_at": data.get("onset_at"),
            "onset_days_ago": data.get("onset_days_ago"),
            "body_location": data.get("body_location") or "",
            "body_location_detail": data.get("body_location_detail") or "",
            "triggers": _split(data.get("triggers", "")),
            "relief_factors": _split(data.get("relief_factors", "")),
            "associated_symptoms": [*data.get("associated", []), *_split(data.get("associated_other", ""))],
            # Read one byte past the limit: the service refuses anything larger without reading it all.
            "photo": upload.read(symptoms.PHOTO_MAX_BYTES + 1) if upload else None,
        }
