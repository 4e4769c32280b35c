import re

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_landing_page_explains_phb_and_links_the_portals(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for portal in ("/patient/", "/clinic/", "/org/", "/platform/"):
        assert f'href="{portal}"' in html
    assert '<main id="main"' in html
    assert 'class="skip-link"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no asset may come from another host (no CDN)"


def test_css_and_htmx_are_served_from_our_static_files(client):
    html = client.get("/").content.decode()
    css = re.search(r'<link rel="stylesheet" href="(/static/[^"]+)"', html).group(1)
    htmx = re.search(r'<script src="(/static/[^"]*htmx[^"]*)"', html).group(1)
    for url in (css, htmx):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"".join(response.streaming_content if response.streaming else [response.content])


@pytest.mark.parametrize("slug", ["patient", "clinic", "org", "platform"])
def test_each_portal_has_an_entry_page(client, slug):
    response = client.get(f"/{slug}/")
    assert response.status_code == 200
    assert b"<h1>" in response.content


def test_an_unknown_portal_is_a_404_page(client):
    assert client.get("/nowhere/").status_code == 404


def test_the_sign_in_form_is_labelled_and_protected_against_csrf(client):
    html = client.get("/accounts/sign-in/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    for name in ("email", "password"):
        field_id = re.search(rf'<input[^>]*name="{name}"[^>]*id="([^"]+)"', html).group(1)
        assert f'<label for="{field_id}"' in html


# --- further cases --------------------------------------------------------------------------------------
PASSWORD = "a-long-test-password-42"  # the factories' password
PORTALS = {
    "patient": "Patient portal",
    "clinic": "Clinician workspace",
    "org": "Hospital administration",
    "platform": "Platform operations",
}


def landing_html(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_landing_page_has_landmarks_a_skip_link_and_no_remote_urls(client):
    html = landing_html(client)
    assert re.search(r'<html lang="en"', html)
    assert re.search(r'<a class="skip-link" href="#main">', html)
    assert html.index('class="skip-link"') < html.index("<header")  # the first thing a keyboard reaches
    assert len(re.findall(r"<main\b", html)) == 1
    assert re.search(r'<nav[^>]*aria-label="Main"', html)
    assert "<h1>" in html
    assert "http://" not in html
    assert "https://" not in html
    assert re.search(r'<link rel="stylesheet" href="/static/[^"]+\.css"', html)
    assert re.search(r'<script src="/static/[^"]*htmx[^"]*\.js"', html)


def test_every_link_and_asset_on_the_landing_page_is_local(client):
    html = landing_html(client)
    for url in re.findall(r'(?:href|src)="([^"]+)"', html):
        assert url.startswith(("/", "#")), url
        assert not url.startswith("//"), url


def test_the_stylesheet_the_htmx_script_and_the_icon_are_served(client):
    html = landing_html(client)
    css = re.search(r'<link rel="stylesheet" href="(/static/[^"]+)"', html).group(1)
    htmx = re.search(r'<script src="(/static/[^"]*htmx[^"]*)"', html).group(1)
    icon = re.search(r'<link rel="icon" href="(/static/[^"]+)"', html).group(1)
    css_response = client.get(css)
    assert css_response.status_code == 200
    assert css_response["Content-Type"].startswith("text/css")
    assert b"{" in body_of(css_response)
    htmx_response = client.get(htmx)
    assert htmx_response.status_code == 200
    assert "javascript" in htmx_response["Content-Type"]
    assert b"htmx" in body_of(htmx_response)
    assert client.get(icon).status_code == 200
    assert client.get("/static/phb/no-such-file.css").status_code == 404


@pytest.mark.parametrize(("slug", "name"), PORTALS.items())
def test_each_portal_page_names_itself_and_marks_the_current_link(client, slug, name):
    response = client.get(f"/{slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert name in html
    assert f'href="/{slug}/" aria-current="page"' in html
    assert "<main" in html


@pytest.mark.parametrize("slug", ["nowhere", "admin-panel", "patients", "Clinic"])
def test_an_unknown_portal_slug_is_the_html_404_page(client, slug):
    response = client.get(f"/{slug}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content
    assert b"urn:phb:problem" not in response.content


def test_the_sign_in_page_has_a_labelled_form_with_a_csrf_token(client):
    response = client.get("/accounts/sign-in/")
    assert response.status_code == 200
    html = response.content.decode()
    form = re.search(r'<form method="post".*?</form>', html, re.S).group(0)
    assert re.search(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]{32,}"', form)
    inputs = re.findall(r"<input[^>]*>", form)
    visible = [i for i in inputs if 'type="hidden"' not in i]
    assert {re.search(r'name="([^"]+)"', i).group(1) for i in visible} == {"email", "password"}
    for tag in visible:
        field_id = re.search(r'id="([^"]+)"', tag).group(1)
        assert re.search(rf'<label for="{field_id}">[^<]+</label>', form), tag
    assert 'type="password"' in form


def test_signing_in_with_a_wrong_password_shows_an_error(client):
    user = UserFactory(email="ada@example.org", email_verified_at=timezone.now())
    response = client.post("/accounts/sign-in/", {"email": user.email, "password": "not-the-password-9"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'role="alert">\s*<p>The email or password is not correct\.</p>', html)
    assert "not-the-password-9" not in html  # the password is never echoed back
    assert 'value="ada@example.org"' in html  # the email is kept for the retry
    assert "_auth_user_id" not in client.session


def test_signing_in_with_the_right_password_redirects(client):
    user = UserFactory(email="ada@example.org", email_verified_at=timezone.now())
    response = client.post("/accounts/sign-in/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.id)
    assert b"Sign out" in client.get("/").content


def test_signing_in_without_the_csrf_token_is_refused():
    user = UserFactory(email_verified_at=timezone.now())
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/sign-in/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
