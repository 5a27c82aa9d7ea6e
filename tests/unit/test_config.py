"""Configuration: working defaults, and errors that name the variable to fix."""

from __future__ import annotations

import pytest

from pmp.config import VARIABLES, ConfigError, load_settings


def test_defaults_need_nothing_but_a_local_rabbitmq():
    settings = load_settings({})
    assert settings.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.embedded and settings.database_url == ""
    assert settings.gateway_url == "http://127.0.0.1:8000"
    assert str(settings.timezone) == "America/New_York"
    assert settings.operator_token == ""  # diagnostics closed until an operator opens them


def test_every_setting_is_documented_once():
    names = [v.name for v in VARIABLES]
    assert len(names) == len(set(names))
    assert all(v.name.startswith("PMP_") and v.help for v in VARIABLES)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PMP_GATEWAY_ADDRESS", "127.0.0.1:http"),
        ("PMP_RPC_TIMEOUT", "soon"),
        ("PMP_RELAY_BATCH_SIZE", "0"),
        ("PMP_LOG_LEVEL", "LOUD"),
        ("PMP_TIMEZONE", "Mars/Olympus_Mons"),
        ("PMP_DATABASE_URL", "mongodb://localhost/pmp"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_services_list_is_trimmed():
    assert load_settings({"PMP_SERVICES": " identity, query ,"}).services == ("identity", "query")
