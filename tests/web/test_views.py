import re

import pytest

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
