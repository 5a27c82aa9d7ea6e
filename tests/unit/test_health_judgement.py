"""How /healthz judges each projection, reaction and relay a service's ping reports: one
whose last try failed is "failing" at once, long before its lag passes the limit (a
projection stuck on an unreachable source said 200 for minutes, issue 23 item 3)."""

from __future__ import annotations

from gateway.service import consumer_health


def _reported(**overrides) -> dict:
    return {
        "name": "alerts.watch",
        "kind": "projection",
        "leads": True,
        "lag_seconds": 0.5,
        "positions": {"submissions": 10},
        "set_aside": 0,
        "error": None,
        "failing_since": None,
        **overrides,
    }


def test_a_current_projection_is_ok():
    assert consumer_health("alerts", [_reported()], 60)["alerts.watch"]["status"] == "ok"


def test_a_projection_whose_last_try_failed_is_failing_though_its_lag_is_small():
    judged = consumer_health(
        "alerts", [_reported(error="SourceUnavailable: submissions is not answering")], 60
    )["alerts.watch"]
    assert judged["status"] == "failing"
    assert "submissions" in judged["error"]


def test_set_aside_events_outrank_a_failure_and_a_failure_outranks_lag():
    assert (
        consumer_health("a", [_reported(set_aside=1, error="x")], 60)["alerts.watch"]["status"]
        == "set_aside"
    )
    assert (
        consumer_health("a", [_reported(lag_seconds=600, error="x")], 60)["alerts.watch"]["status"]
        == "failing"
    )
