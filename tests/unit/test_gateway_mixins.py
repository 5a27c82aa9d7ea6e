"""The gateway is one nameko service assembled from mixins (pages and API per capability).
Two mixins defining the same name would silently call each other's method: one page once
rendered another's template this way. Every name is defined by one mixin only."""

from __future__ import annotations

from gateway.service import GatewayService


def test_no_two_gateway_mixins_define_the_same_name() -> None:
    owners: dict[str, list[str]] = {}
    for cls in GatewayService.__mro__:
        if cls.__module__.startswith("gateway."):
            for name in vars(cls):
                if not name.startswith("__"):
                    owners.setdefault(name, []).append(cls.__qualname__)
    assert {name: by for name, by in owners.items() if len(by) > 1} == {}
