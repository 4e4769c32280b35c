"""Forms of the workforce pages. They parse and check input only; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from phb.organizations.public import Weekday

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _time(label: str, *, required: bool = True) -> forms.TimeField:
    return forms.TimeField(label=label, required=required, widget=TIME)


def _words(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class PractitionerForm(forms.Form):
    """A practitioner's profile; `member` only when making one."""

    member = forms.ChoiceField(label="Member of staff")
    department = forms.ChoiceField(label="Department", required=False)
    specialization = forms.CharField(label="Specialization", max_length=100)
    licence_number = forms.CharField(label="Medical licence number", max_length=50)
    licence_expires_on = forms.DateField(label="Licence expires on", required=False, widget=DATE)
    qualifications = forms.CharField(
        label="Qualifications", max_length=1000, required=False, help_text="Separated by commas, e.g. MBBS, FWACP"
    )
    years_of_experience = forms.IntegerField(label="Years of experience", min_value=0, max_value=80, initial=0)
    languages = forms.CharField(label="Languages spoken", max_length=300, required=False, help_text="e.g. en, yo, ha")
    consultation_fee = forms.DecimalField(label="Consultation fee", min_value=0, max_digits=12, decimal_places=2)
    offers_telemedicine = forms.BooleanField(label="Offers telemedicine", required=False)

    def __init__(
        self,
        *args: Any,
        departments: list[tuple[str, str]],
        members: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", "—"), *departments]
        if members is None:
            del self.fields["member"]
        else:
            self.fields["member"].choices = [("", "—"), *members]

    def profile_fields(self) -> dict[str, Any]:
        """The cleaned fields as the services take them."""
        data = self.cleaned_data
        return {
            "department_id": data["department"] or None,
            "specialization": data["specialization"],
            "licence_number": data["licence_number"],
            "licence_expires_on": data["licence_expires_on"],
            "qualifications": _words(data["qualifications"]),
            "years_of_experience": data["years_of_experience"],
            "languages": _words(data["languages"]),
            "consultation_fee": data["consultation_fee"],
            "offers_telemedicine": data["offers_telemedicine"],
        }

    @staticmethod
    def initial_for(profile: Any) -> dict[str, Any]:
        return {
            "department": str(profile.department_id or ""),
            "specialization": profile.specialization,
            "licence_number": profile.licence_number,
            "licence_expires_on": profile.licence_expires_on,
            "qualifications": ", ".join(profile.qualifications),
            "years_of_experience": profile.years_of_experience,
            "languages": ", ".join(profile.languages),
            "consultation_fee": profile.consultation_fee,
            "offers_telemedicine": profile.offers_telemedicine,
        }


class WindowForm(forms.Form):
    """A weekly window of availability, with an optional break."""

    weekday = forms.TypedChoiceField(label="Day", choices=Weekday.choices, coerce=int)
    starts_at = _time("From")
    ends_at = _time("Until")
    break_starts_at = _time("Break from", required=False)
    break_ends_at = _time("Break until", required=False)
    slot_minutes = forms.IntegerField(label="Slot (minutes)", min_value=5, max_value=480, initial=15)
    max_daily_appointments = forms.IntegerField(label="Most appointments a day", min_value=1, max_value=500, initial=20)

    FIELDS = ("weekday", "starts_at", "ends_at", "break_starts_at", "break_ends_at", "slot_minutes")

    def window(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in (*self.FIELDS, "max_daily_appointments")}


class LeaveForm(forms.Form):
    starts_on = forms.DateField(label="First day", widget=DATE)
    ends_on = forms.DateField(label="Last day", widget=DATE)
    reason = forms.CharField(label="Reason", max_length=200, required=False)


class ClosureForm(forms.Form):
    """Part of one day, in the organization's local time."""

    on = forms.DateField(label="Day", widget=DATE)
    starts_at = _time("From")
    ends_at = _time("Until")
    reason = forms.CharField(label="Reason", max_length=200, required=False)

    def span(self, zone: Any) -> tuple[dt.datetime, dt.datetime]:
        day = self.cleaned_data["on"]
        return (
            dt.datetime.combine(day, self.cleaned_data["starts_at"], tzinfo=zone),
            dt.datetime.combine(day, self.cleaned_data["ends_at"], tzinfo=zone),
        )


class OpeningHoursForm(forms.Form):
    """The week's opening hours: up to two intervals a day (closed at lunch); a day left empty is closed.
    All left empty: the organization is not bounded by opening hours."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday, label in Weekday.choices:
            for part in (1, 2):
                self.fields[f"opens_{weekday}_{part}"] = _time(f"{label} opens", required=False)
                self.fields[f"closes_{weekday}_{part}"] = _time(f"{label} closes", required=False)

    def rows(self) -> list[tuple[str, list[tuple[Any, Any]]]]:
        """(day, [(opens field, closes field), ...]) for the template."""
        return [
            (label, [(self[f"opens_{weekday}_{p}"], self[f"closes_{weekday}_{p}"]) for p in (1, 2)])
            for weekday, label in Weekday.choices
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for weekday, _ in Weekday.choices:
            for part in (1, 2):
                opens, closes = data.get(f"opens_{weekday}_{part}"), data.get(f"closes_{weekday}_{part}")
                if (opens is None) != (closes is None):
                    self.add_error(f"closes_{weekday}_{part}", "give both the opening and the closing time")
        return data

    def hours(self) -> list[tuple[int, dt.time, dt.time]]:
        data = self.cleaned_data
        return [
            (weekday, data[f"opens_{weekday}_{part}"], data[f"closes_{weekday}_{part}"])
            for weekday, _ in Weekday.choices
            for part in (1, 2)
            if data.get(f"opens_{weekday}_{part}") is not None
        ]

    @staticmethod
    def initial_for(rows: list[Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        seen: dict[int, int] = {}
        for row in rows:
            part = seen[row.weekday] = seen.get(row.weekday, 0) + 1
            if part <= 2:
                initial[f"opens_{row.weekday}_{part}"] = row.opens_at
                initial[f"closes_{row.weekday}_{part}"] = row.closes_at
        return initial


class HolidayForm(forms.Form):
    observed_on = forms.DateField(label="Date", widget=DATE)
    name = forms.CharField(label="Name", max_length=120)
