"""Sign-in and sign-out pages (the second factor and step-up access arrive with the accounts issue)."""

from django.contrib.auth import views as auth_views

from phb.accounts.forms import SignInForm


class SignInView(auth_views.LoginView):
    template_name = "accounts/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    pass
