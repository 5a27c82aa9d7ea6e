"""Run one service (or the gateway) in this process, as ``nameko run`` does.

This is what ``pmp service NAME`` executes: the unit ``pmp up`` supervises, and the command
of every container in docker-compose.yml. eventlet is patched before anything else loads.
"""

from __future__ import annotations

import sys


def run_service(name: str) -> None:
    import warnings

    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

    from nameko.cli.run import run

    from pmp.broker import BrokerUnreachable, check_broker
    from pmp.config import load_settings
    from pmp.topology import spec_of

    try:
        spec = spec_of(name)
    except KeyError as exc:
        sys.exit(f"pmp service: {exc.args[0]}")
    settings = load_settings()
    try:
        check_broker(settings.amqp_uri)
    except BrokerUnreachable as exc:
        sys.exit(str(exc))
    service_cls = spec.load()
    config = {
        "AMQP_URI": settings.amqp_uri,
        "WEB_SERVER_ADDRESS": f"{settings.gateway_host}:{settings.gateway_port}",
        "max_workers": 20,
        "parent_calls_tracked": 10,
    }
    run([service_cls], config)
