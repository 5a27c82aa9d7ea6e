"""Pure rules behind the sign-in redirect and the bounded moments (their stack tests are in
tests/integration/test_sign_in_redirect.py and test_parameter_bounds.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.redirects import site_path
from pmp.moments import parse_moment


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/%09/evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "/%252F%252Fevil.example",
        "/%2525252Fx",  # encoded more often than any real link is
        "https://evil.example",
        "//evil.example",
        "/\n/evil.example",
        "/%0d%0a/evil.example",
        " /search",
        "/search\u202e",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_anything_but_a_path_on_this_site_goes_home(target):
    assert site_path(target) == "/"


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/patients/search", "/patients/search"),
        ("/search?first=Ann%20Lee&born=1980-01-02", "/search?first=Ann%20Lee&born=1980-01-02"),
        ("/a%2fb", "/a%2fb"),
        ("/é", "/%C3%A9"),  # a header carries ASCII only
    ],
)
def test_a_path_on_this_site_is_kept(target, location):
    assert site_path(target) == location


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "1899-12-31T23:59:59+00:00",
        "3000-01-01T00:00:00+00:00",
        "2026-11-22T09:00:00",  # no offset
        "yesterday",
    ],
)
def test_a_moment_without_an_offset_or_outside_the_calendars_reach_is_refused(text):
    with pytest.raises(ValueError):
        parse_moment(text)


def test_a_moment_within_reach_is_read_with_its_offset():
    assert parse_moment("2026-11-22T09:00:00-05:00").astimezone(UTC) == datetime(
        2026, 11, 22, 14, tzinfo=UTC
    )
    assert parse_moment("1900-01-01T00:00:00Z").year == 1900
