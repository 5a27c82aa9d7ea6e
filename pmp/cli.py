"""The ``pmp`` command. Imports are inside each command so ``pmp service`` can patch eventlet
before anything else is loaded."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    given = sys.argv[1:] if argv is None else argv
    if len(given) == 2 and given[0] == "service" and not given[1].startswith("-"):
        # Before any other command's parser is imported: they import the kernel (pmp.db,
        # psycopg), which must come after eventlet's patching, or every PostgreSQL query
        # of the service would block all its green threads.
        from pmp.runner import run_service

        run_service(given[1])
        return
    parser = argparse.ArgumentParser(prog="pmp", description="CPMRS operations.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start every service and the gateway, supervised")
    up.add_argument("--services", help="comma-separated subset (default: PMP_SERVICES or all)")
    up.add_argument(
        "--demo",
        action="store_true",
        help="first, load a small demo data set if no submission was ever received (make run)",
    )

    service = commands.add_parser("service", help="run one service (or 'gateway') here")
    service.add_argument("name")

    projections = commands.add_parser(
        "projections", help="list or rebuild read models; their set-aside events"
    )
    actions = projections.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every projection and its checkpoints")
    rebuild = actions.add_parser("rebuild", help="empty a read model and replay from position 0")
    rebuild.add_argument("name", help="e.g. query.probe_arrivals")
    listed = actions.add_parser(
        "set-aside", help="events a projection or reaction could not apply and went past"
    )
    listed.add_argument("--dismissed", action="store_true", help="include dismissed ones")
    retry = actions.add_parser("retry", help="apply set-aside events again (after a fix)")
    retry.add_argument("name", nargs="?", help="one projection or reaction (default: all)")
    retry.add_argument("--event", help="only this event id")
    dismiss = actions.add_parser(
        "dismiss", help="record that a set-aside event will never apply (no longer counted)"
    )
    dismiss.add_argument("name", help="the projection or reaction, e.g. alerts.watch")
    dismiss.add_argument("--event", required=True, help="the event id")

    commands.add_parser("config", help="print every PMP_* variable as a Markdown table")

    from pmp.check import add_parser as add_check_parser
    from services.audit.cli import add_parser as add_audit_parser
    from services.identity.cli import add_parser as add_accounts_parser
    from services.query.mm_cli import add_parser as add_mm_parser
    from services.submissions.cli import add_parser as add_ingest_parser
    from services.submissions.demo_cli import add_parser as add_demo_parser

    add_accounts_parser(commands)
    add_audit_parser(commands)
    add_ingest_parser(commands)
    add_demo_parser(commands)
    add_mm_parser(commands)
    add_check_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "service":
        from pmp.runner import run_service

        run_service(args.name)
    elif args.command == "up":
        sys.exit(_up(args.services, demo=args.demo))
    elif args.command == "projections":
        sys.exit(_projections(args))
    elif args.command == "audit":
        from services.audit.cli import verify_trail

        sys.exit(verify_trail(args))
    elif args.command == "accounts":
        from services.identity.cli import create_account

        sys.exit(create_account(args))
    elif args.command == "ingest":
        from services.submissions.cli import ingest

        sys.exit(ingest(args))
    elif args.command == "demo-data":
        from services.submissions.demo_cli import run as demo_data

        sys.exit(demo_data(args))
    elif args.command == "mm":
        from services.query.mm_cli import run as mm_import

        sys.exit(mm_import(args))
    elif args.command == "check":
        from pmp.check import run as check

        sys.exit(check(args))
    elif args.command == "config":
        from pmp.config import VARIABLES

        print("| variable | default | meaning |\n| --- | --- | --- |")
        for v in VARIABLES:
            print(
                f"| `{v.name}` | `{v.default}` | {v.help} |"
                if v.default
                else f"| `{v.name}` | (empty) | {v.help} |"
            )


def _projections(args: argparse.Namespace) -> int:
    from pmp import setaside_cli
    from pmp.rebuild import list_projections, rebuild_projection

    if args.action == "list":
        return list_projections()
    if args.action == "rebuild":
        return rebuild_projection(args.name)
    if args.action == "set-aside":
        return setaside_cli.list_set_aside(args.dismissed)
    if args.action == "retry":
        return setaside_cli.retry(args.name, args.event)
    return setaside_cli.dismiss(args.name, args.event)


def _up(services: str | None, *, demo: bool = False) -> int:
    from pmp.config import ConfigError, load_settings
    from pmp.supervisor import Supervisor, say
    from pmp.topology import GATEWAY, SERVICE_NAMES

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"pmp up: {exc}", file=sys.stderr)
        return 2
    chosen = [s.strip() for s in services.split(",")] if services else list(settings.services)
    unknown = sorted(set(chosen) - set(SERVICE_NAMES))
    if unknown:
        print(f"pmp up: unknown services {', '.join(unknown)}", file=sys.stderr)
        return 2
    prepare = None
    if demo:
        from services.submissions.demo_cli import load_first_run_demo

        def prepare() -> None:
            say(load_first_run_demo(settings))

    names = [*(chosen or SERVICE_NAMES), GATEWAY.name]
    return Supervisor(settings, names, prepare=prepare).run()
