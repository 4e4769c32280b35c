from django import forms

from phb.accounts.models import ConsentKind


class SignInForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class OrganizationSignInForm(SignInForm):
    hospital_code = forms.SlugField(label="Hospital code", max_length=40)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text="The 6-digit code from your authenticator app, a backup code, or the code we emailed you.",
    )


class RegisterForm(forms.Form):
    full_name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(
        max_length=32,
        required=False,
        help_text="International form, e.g. +234 803 123 4567",
        widget=forms.TextInput(attrs={"autocomplete": "tel"}),
    )
    password = forms.CharField(
        strip=False,
        help_text="At least 12 characters.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    consent_terms = forms.BooleanField(label=f"I accept the {ConsentKind.TERMS.label.lower()}")
    consent_data_processing = forms.BooleanField(label="I agree that PHB processes my health data to provide care")
    consent_privacy = forms.BooleanField(label="I have read the privacy notice (NDPR, GDPR, HIPAA)")


class EmailForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class SetPasswordForm(forms.Form):
    password = forms.CharField(
        strip=False,
        help_text="At least 12 characters.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class ChangePasswordForm(forms.Form):
    current_password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password = forms.CharField(
        strip=False,
        help_text="At least 12 characters.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class InviteForm(forms.Form):
    full_name = forms.CharField(max_length=200)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=())

    def __init__(self, *args, roles: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=[("justified", "Justified"), ("not_justified", "Not justified")])
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="Which system this is, e.g. “City lab”.")
    scopes = forms.CharField(
        max_length=500,
        label="Scopes",
        initial="system/Patient.read",
        help_text="Space-separated, each system/<Resource or *>.read, .write or .* (write where PHB accepts it).",
    )
