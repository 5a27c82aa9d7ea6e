"""HTML pages: Jinja2 templates that extend ``base.html``, escaped by default."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from pmp.config import load_settings
from services.identity.passwords import EXAMPLE_PASSWORD


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("gateway", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    env.filters["local_iso"] = local_iso
    # the example the password pages show is the one the password rules refuse
    env.globals["password_example"] = EXAMPLE_PASSWORD
    return env


def local_time(moment: datetime) -> str:
    """A UTC time shown in the program's time zone, as users read it."""
    local = moment.astimezone(_timezone())
    return local.strftime("%B %-d, %Y, %-I:%M %p %Z")


def local_iso(text: str | None) -> str:
    """An ISO 8601 time from a service's answer, shown as ``local_time`` shows it."""
    return local_time(datetime.fromisoformat(text)) if text else ""


@cache
def _timezone():
    return load_settings().timezone


def render_page(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
