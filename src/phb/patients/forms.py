"""Forms of the patient pages: they parse and label input; the rules stay in the services, whose
field errors come back onto the form through `show_problem`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from phb.kernel.errors import ProblemError
from phb.patients import hpn, portal, services
from phb.patients.models import Patient, Sex

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
PHONE_HELP = "International form, e.g. +234 803 123 4567"
IDENTIFIER_KINDS = [("", "—"), ("nin", "NIN"), ("passport", "Passport"), ("ssn", "Social security number")]


def show_problem(form: forms.Form, exc: ProblemError, fields: dict[str, str] | None = None) -> None:
    """Put a service's error on the form: each field error on its field (renamed through `fields`
    when the service names it differently), anything else above the form."""
    errors = exc.extra.get("errors") or []
    for error in errors:
        name = (fields or {}).get(error.get("field", ""), error.get("field", ""))
        form.add_error(name if name in form.fields else None, error.get("message") or exc.detail)
    if not errors:
        form.add_error(None, exc.detail)


def _not_in_future(value: Any) -> Any:
    if value and value > timezone.localdate():
        raise forms.ValidationError("the date of birth is in the future")
    return value


class PatientSearchForm(forms.Form):
    q = forms.CharField(label="Name", max_length=200, required=False)
    hpn = forms.CharField(label="HPN", max_length=20, required=False, help_text="11 digits, e.g. 4821 0937 615")
    mrn = forms.CharField(label="MRN", max_length=20, required=False)
    phone = forms.CharField(label="Phone", max_length=32, required=False, help_text=PHONE_HELP)
    birth_date = forms.DateField(label="Date of birth", required=False, widget=DATE)
    identifier_kind = forms.ChoiceField(label="Identifier type", choices=IDENTIFIER_KINDS, required=False)
    identifier = forms.CharField(label="Identifier", max_length=50, required=False)

    def clean_hpn(self) -> str:
        value = self.cleaned_data["hpn"].strip()
        if value and not hpn.is_valid(value):
            raise forms.ValidationError("this is not a valid HPN (check the digits)")
        return value

    def clean_birth_date(self) -> Any:
        return _not_in_future(self.cleaned_data["birth_date"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("identifier") and not data.get("identifier_kind"):
            self.add_error("identifier_kind", "say which identifier this is")
        return data


class WalkInForm(forms.Form):
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    other_names = forms.CharField(max_length=200, required=False)
    birth_date = forms.DateField(label="Date of birth", required=False, widget=DATE)
    estimated_age_years = forms.IntegerField(
        label="Stated age in years (when the birth date is unknown)", required=False, min_value=0, max_value=130
    )
    sex = forms.ChoiceField(choices=Sex.choices)
    phone = forms.CharField(max_length=32, required=False, help_text=PHONE_HELP)
    email = forms.EmailField(required=False)
    state = forms.CharField(max_length=100, required=False)
    city = forms.CharField(max_length=100, required=False)
    address_line = forms.CharField(label="Address", max_length=300, required=False)
    nin = forms.CharField(label="NIN", max_length=20, required=False, help_text="National identification number")

    def clean_birth_date(self) -> Any:
        return _not_in_future(self.cleaned_data["birth_date"])

    def demographics(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("birth_date"):
            data["estimated_age_years"] = None
        return data


class ProofForm(forms.Form):
    """What the patient at the desk says, to show they are the person on record."""

    proof_hpn = forms.CharField(label="The patient's HPN", max_length=20, required=False)
    proof_birth_date = forms.DateField(label="or their date of birth", required=False, widget=DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("proof_hpn") and not data.get("proof_birth_date"):
            raise forms.ValidationError("Ask the patient for their HPN or their date of birth.")
        return data


class DemographicsForm(forms.ModelForm):
    """Reception edits what `services.EDITABLE` allows; only the fields changed are sent."""

    class Meta:
        model = Patient
        fields = services.EDITABLE
        widgets = {"birth_date": DATE, "deceased_on": DATE}
        help_texts = {"phone": PHONE_HELP}

    def clean_birth_date(self) -> Any:
        return _not_in_future(self.cleaned_data["birth_date"])

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(label="Reason (needed to reject)", max_length=500, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "say why the registration is rejected")
        return data


class ProfileForm(forms.ModelForm):
    """The contact details a patient corrects themselves (`portal.PROFILE_FIELDS`)."""

    class Meta:
        model = Patient
        fields = portal.PROFILE_FIELDS
        help_texts = {"phone": PHONE_HELP}

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}


YES_NO = [("", "Prefer not to say"), ("yes", "Yes"), ("no", "No")]
HISTORY_LABELS = {
    "conditions": "Conditions you live with",
    "allergies": "Allergies",
    "medications": "Medicines you take",
    "surgeries": "Operations you had",
    "family_history": "Illnesses in your family",
    "notes": "Anything else",
}


def _choices(values: tuple[Any, ...]) -> list[tuple[str, str]]:
    return [(str(v), str(v).capitalize()) for v in values if v is not None]


class OnboardingForm(forms.Form):
    """One form: your details (when there is no record yet), preferences, history, an emergency
    contact and a primary hospital. History fields are one item per line."""

    DETAILS = ("given_name", "family_name", "birth_date", "sex", "phone")
    # Where the service's field names differ from this form's.
    SERVICE_FIELDS = {
        **{f"preferences.{k}": f"pref_{k}" for k in portal.PREFERENCES},
        **{f"history.{k}": f"history_{k}" for k in portal.HISTORY},
        "emergency_contact.name": "contact_name",
        "emergency_contact.phone": "contact_phone",
        "primary_organization_id": "primary_organization",
    }

    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    birth_date = forms.DateField(label="Date of birth", required=False, widget=DATE)
    sex = forms.ChoiceField(choices=Sex.choices, initial=Sex.UNKNOWN)
    phone = forms.CharField(max_length=32, required=False, help_text=PHONE_HELP)

    pref_contact_by = forms.ChoiceField(
        label="How should we contact you?", choices=_choices(portal.PREFERENCES["contact_by"])
    )
    pref_language = forms.CharField(label="Language you prefer for care", max_length=100, required=False)
    pref_clinician_gender = forms.ChoiceField(
        label="Clinician you prefer", choices=_choices(portal.PREFERENCES["clinician_gender"])
    )
    pref_accepts_blood_transfusion = forms.ChoiceField(
        label="Do you accept a blood transfusion?", choices=YES_NO, required=False
    )
    pref_diet = forms.CharField(label="Diet", max_length=500, required=False)
    pref_notes = forms.CharField(label="Other preferences", max_length=500, required=False, widget=forms.Textarea)

    history_conditions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    history_allergies = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    history_medications = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    history_surgeries = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    history_family_history = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    history_notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    contact_name = forms.CharField(label="Name", max_length=200, required=False)
    contact_relationship = forms.CharField(label="Relationship to you", max_length=50, required=False)
    contact_phone = forms.CharField(label="Phone", max_length=32, required=False, help_text=PHONE_HELP)
    contact_is_next_of_kin = forms.BooleanField(label="This person is my next of kin", required=False)

    primary_organization = forms.ChoiceField(label="Your main hospital or clinic", required=False)

    def __init__(self, *args: Any, has_record: bool, organizations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in HISTORY_LABELS.items():
            self.fields[f"history_{name}"].label = label
            self.fields[f"history_{name}"].help_text = "One per line"
        self.fields["primary_organization"].choices = [("", "Choose later"), *organizations]
        if has_record:
            for name in self.DETAILS:
                del self.fields[name]

    def clean_birth_date(self) -> Any:
        return _not_in_future(self.cleaned_data["birth_date"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        contact = [data.get(f"contact_{k}") for k in ("name", "relationship", "phone")]
        if any(contact) and not all(contact):
            self.add_error("contact_name", "give the contact's name, relationship and phone, or none of them")
        return data

    def details(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.DETAILS if name in self.cleaned_data}

    def preferences(self) -> dict[str, Any]:
        data = self.cleaned_data
        transfusion = {"yes": True, "no": False}.get(data["pref_accepts_blood_transfusion"])
        prefs: dict[str, Any] = {
            "contact_by": data["pref_contact_by"],
            "clinician_gender": data["pref_clinician_gender"],
        }
        for key in ("language", "diet", "notes"):
            if data[f"pref_{key}"].strip():
                prefs[key] = data[f"pref_{key}"]
        if transfusion is not None:
            prefs["accepts_blood_transfusion"] = transfusion
        return prefs

    def history(self) -> dict[str, list[str]]:
        out = {}
        for key in portal.HISTORY:
            lines = [line.strip() for line in self.cleaned_data[f"history_{key}"].splitlines() if line.strip()]
            if lines:
                out[key] = lines
        return out

    def emergency_contact(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data.get("contact_name"):
            return None
        return {
            "name": data["contact_name"],
            "relationship": data["contact_relationship"],
            "phone": data["contact_phone"],
            "is_next_of_kin": data["contact_is_next_of_kin"],
        }


class RegistrationRequestForm(forms.Form):
    organization = forms.ChoiceField(label="Hospital or clinic")

    def __init__(self, *args: Any, organizations: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = organizations
