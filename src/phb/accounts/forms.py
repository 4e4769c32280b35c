from django.contrib.auth.forms import AuthenticationForm
from django.forms import EmailField, EmailInput


class SignInForm(AuthenticationForm):
    username = EmailField(label="Email", widget=EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
