"""Sign-up links: they carry the address under a MAC, expire, and cannot be forged; the two
emails a sign-up can cause."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from pmp.config import load_settings
from services.identity.domain import AccountError, CodeRejected
from services.identity.signup import checked_address, existing_account_notice, invitation, read_link

SETTINGS = load_settings({"PMP_SECRET_KEY": "k", "PMP_PUBLIC_URL": "https://pmp.example.gov"})
NOW = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


def token_in(text: str) -> str:
    return re.search(r"https://pmp\.example\.gov/register/confirm/(\S+)", text).group(1)


def test_the_link_names_the_address_until_it_expires():
    token = token_in(invitation(SETTINGS, "Pat@Example.org", NOW).text)
    assert read_link(SETTINGS, token, NOW + timedelta(hours=47)) == "pat@example.org"
    with pytest.raises(CodeRejected, match="expired"):
        read_link(SETTINGS, token, NOW + timedelta(hours=48))


def test_a_changed_or_foreign_link_is_refused():
    token = token_in(invitation(SETTINGS, "pat@example.org", NOW).text)
    address, expires, mac = token.split(".")
    other = token_in(invitation(SETTINGS, "eve@example.org", NOW).text).split(".")[0]
    for forged in (
        f"{other}.{expires}.{mac}",  # another address under this MAC
        f"{address}.{int(expires) + 86400}.{mac}",  # a later expiry
        f"{address}.{expires}.{mac[:-1]}{'1' if mac[-1] == '0' else '0'}",
        "nonsense",
        "",
    ):
        with pytest.raises(CodeRejected):
            read_link(SETTINGS, forged, NOW)
    elsewhere = load_settings({"PMP_SECRET_KEY": "other", "PMP_PUBLIC_URL": "https://x"})
    with pytest.raises(CodeRejected):
        read_link(elsewhere, token, NOW)


def test_an_existing_owner_is_told_and_given_no_link():
    notice = existing_account_notice(SETTINGS, "pat@example.org")
    assert notice.to == "pat@example.org"
    assert "Someone tried to register" in notice.text and "/register/confirm/" not in notice.text
    assert "https://pmp.example.gov/password/forgot" in notice.text


def test_only_one_plain_address_is_taken():
    assert checked_address(" Pat@Example.ORG ") == "pat@example.org"
    for wrong in ("pat", "pat@example", "a@x.org,b@y.org", "a@x.org\nBcc: b@y.org",
                  "Pat <pat@example.org>", "a@b@c.org", "a;b@c.org"):  # fmt: skip
        with pytest.raises(AccountError, match="^email: "):
            checked_address(wrong)
