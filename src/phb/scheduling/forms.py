"""Forms of the scheduling pages. They parse and check input only; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.urls import reverse

from phb.scheduling.models import AppointmentStatus, KioskKind, Priority

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _refreshes(field: forms.Field, url: str) -> None:
    """Choosing a value reloads the form (HTMX) with the choices that follow from it; without
    JavaScript, the form's "Show" button does the same."""
    field.widget.attrs.update(
        {
            "hx-post": url,
            "hx-trigger": "change",
            "hx-target": "#booking",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
            "hx-vals": '{"refresh": "1"}',
        }
    )


class WalkInBookingForm(forms.Form):
    """Book at the desk: a patient by MRN (or chosen in the patient search), a practitioner, a free slot."""

    mrn = forms.CharField(label="MRN", max_length=20, required=False, help_text="Or open the patient from the search")
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)
    practitioner = forms.ChoiceField(label="Practitioner")
    slot = forms.ChoiceField(label="Time", required=False)
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices, initial=Priority.NORMAL)
    chief_complaint = forms.CharField(
        label="Complaint", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, practitioners: list[tuple[str, str]], slots: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = [("", "—"), *practitioners]
        self.fields["slot"].choices = [("", "—"), *slots]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("mrn") and not data.get("patient"):
            self.add_error("mrn", "give the patient's MRN")
        if not data.get("slot") and "practitioner" in data:
            self.add_error("slot", "choose a free time")
        return data


class PortalBookingForm(forms.Form):
    """The patient's booking: hospital, department, practitioner (or the first available), slot, complaint."""

    hospital = forms.ChoiceField(label="Hospital")
    department = forms.ChoiceField(label="Department", required=False)
    practitioner = forms.ChoiceField(label="Practitioner", required=False)
    slot = forms.ChoiceField(label="Time", required=False)
    chief_complaint = forms.CharField(
        label="What is the matter?", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self,
        *args: Any,
        hospitals: list[tuple[str, str]],
        departments: list[tuple[str, str]],
        practitioners: list[tuple[str, str]],
        slots: list[tuple[str, str]],
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["hospital"].choices = [("", "—"), *hospitals]
        self.fields["department"].choices = [("", "—"), *departments]
        self.fields["practitioner"].choices = [("", "First available"), *practitioners]
        self.fields["slot"].choices = [("", "—"), *slots]
        for name in ("hospital", "department", "practitioner"):
            _refreshes(self.fields[name], reverse("scheduling_portal:book"))


class AdminFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=[("", "Any"), *AppointmentStatus.choices], required=False)
    department = forms.ChoiceField(label="Department", required=False)
    practitioner = forms.ChoiceField(label="Practitioner", required=False)
    priority = forms.ChoiceField(label="Priority", choices=[("", "Any"), *Priority.choices], required=False)
    from_date = forms.DateField(label="From", required=False, widget=DATE)
    to_date = forms.DateField(label="To", required=False, widget=DATE)

    def __init__(
        self, *args: Any, departments: list[tuple[str, str]], practitioners: list[tuple[str, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", "Any"), *departments]
        self.fields["practitioner"].choices = [("", "Any"), *practitioners]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("from_date"), data.get("to_date")
        if start and end and end < start:
            self.add_error("to_date", "the range ends before it starts")
        if start and end and (end - start) > dt.timedelta(days=366):
            self.add_error("to_date", "at most a year at a time")
        return data


_KIOSK_INPUT = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


class KioskCheckInForm(forms.Form):
    """The patient's side of the kiosk: the reference on their confirmation and their date of birth.
    SECURITY: the browser must not remember either for the next person (autocomplete off)."""

    reference = forms.CharField(
        label="Appointment reference",
        max_length=20,
        help_text="On your confirmation, e.g. APT-7K3M9Q2D",
        widget=forms.TextInput(attrs={**_KIOSK_INPUT, "placeholder": "APT-"}),
    )
    day = forms.IntegerField(
        label="Day", min_value=1, max_value=31, widget=forms.NumberInput(attrs={"inputmode": "numeric", **_KIOSK_INPUT})
    )
    month = forms.IntegerField(
        label="Month",
        min_value=1,
        max_value=12,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", **_KIOSK_INPUT}),
    )
    year = forms.IntegerField(
        label="Year",
        min_value=1900,
        max_value=2100,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", **_KIOSK_INPUT}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if all(data.get(k) for k in ("day", "month", "year")):
            try:
                data["birth_date"] = dt.date(data["year"], data["month"], data["day"])
            except ValueError:
                self.add_error("day", "that is not a date")
        return data


class KioskForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="e.g. 'Entrance kiosk 1'")
    kind = forms.ChoiceField(label="Kind", choices=KioskKind.choices)
    department = forms.ChoiceField(
        label="Department",
        required=False,
        help_text="A display shows this department's queue; a check-in kiosk serves only it, or every "
        "department when none is chosen.",
    )
    location = forms.CharField(label="Where it stands", max_length=200, required=False)

    def __init__(self, *args: Any, departments: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", "—"), *departments]


class RescheduleForm(forms.Form):
    """The patient's new time: with the same practitioner, or anyone in the department."""

    practitioner = forms.ChoiceField(label="With", required=False)
    slot = forms.ChoiceField(label="New time")

    def __init__(
        self,
        *args: Any,
        practitioners: list[tuple[str, str]],
        slots: list[tuple[str, str]],
        url: str,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = practitioners
        self.fields["slot"].choices = [("", "—"), *slots]
        _refreshes(self.fields["practitioner"], url)
