"""A browser page as the e2e tests use it: a laptop-sized window that keeps downloads and
collects the page's console errors (``page.console_errors``), optionally signed in."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Page

from tests.helpers.accounts import User
from tests.helpers.stack import Stack


def new_page(
    browser: Browser, stack: Stack | None = None, user: User | None = None
) -> tuple[BrowserContext, Page]:
    """A page in a context of its own; with ``stack`` and ``user``, signed in as ``user``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    if stack is not None and user is not None:
        context.add_cookies(
            [
                {"name": name, "value": value, "url": stack.url}
                for name, value in user.cookies().items()
            ]
        )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.console_errors = errors  # type: ignore[attr-defined]
    return context, page
