"""After signing in, the browser goes back only to a page of this site (no open redirect).

The probe's link ``/login?next=/%09/evil.example/x`` sent a signed-in user to
``//evil.example/x``: browsers drop the tab and read the rest as another site.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.helpers.accounts import NEW_PASSWORD, sign_up

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

# As they arrive in the query string (already percent-decoded once by the server).
NASTY = {
    "tab": "/\t/evil.example/x",
    "encoded tab": "/%09/evil.example/x",
    "backslash": "/\\evil.example/x",
    "encoded slashes": "/%2F%2Fevil.example/x",
    "double-encoded slashes": "/%252F%252Fevil.example/x",
    "scheme": "https://evil.example/x",
    "protocol-relative": "//evil.example/x",
    "newline": "/\n/evil.example/x",
    "carriage return": "/\r\n//evil.example/x",
    "script": "javascript:alert(1)",
}


@pytest.fixture(scope="module")
def applicant(stack):
    return sign_up(stack)


def sign_in_through_the_form(stack, user, next_value: str) -> tuple[str, requests.Response]:
    """Open ``/login?next=...`` as a browser does, then submit the form it shows."""
    with requests.Session() as browser:
        page = browser.get(stack.url + "/login", params={"next": next_value}, timeout=30)
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        carried = re.search(r'name="next" value="([^"]*)"', page.text)
        form = {"email": user.email, "password": NEW_PASSWORD, "csrf_token": token}
        if carried:
            form["next"] = carried.group(1)
        answer = browser.post(
            stack.url + "/login",
            params={"next": next_value},
            data=form,
            allow_redirects=False,
            timeout=30,
        )
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"], answer


def assert_same_site_path(stack, location: str) -> None:
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location and location.isprintable(), location
    assert urlsplit(urljoin(stack.url + "/login", location)).netloc == urlsplit(stack.url).netloc


@SQLITE
@pytest.mark.parametrize("next_value", NASTY.values(), ids=NASTY.keys())
def test_a_next_elsewhere_sends_the_user_home(stack, applicant, next_value):
    location, _ = sign_in_through_the_form(stack, applicant, next_value)
    assert_same_site_path(stack, location)
    assert location == "/"


@SQLITE
def test_a_next_on_this_site_is_still_honoured(stack, applicant):
    location, _ = sign_in_through_the_form(stack, applicant, "/patients/search")
    assert location == "/patients/search"
    location, _ = sign_in_through_the_form(stack, applicant, "/account?tab=mfa")
    assert location == "/account?tab=mfa"
