"""``pmp accounts create``: the operator's way to create the first administrator.

Someone with shell access to a deployment is trusted as its operator. The command asks the
running identity service (over RPC) to create the account, acting as ``operator``, and writes
the credential letter to a file to print and post; the password is never shown on screen.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from services.identity.roles import Role

OPERATOR = {"actor_id": "operator", "actor_role": str(Role.ADMINISTRATOR)}


def add_parser(commands) -> None:
    accounts = commands.add_parser("accounts", help="create accounts (the first administrator)")
    actions = accounts.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create an account and write its letter (PDF)")
    create.add_argument("--email", required=True)
    create.add_argument("--first-name", required=True)
    create.add_argument("--last-name", required=True)
    create.add_argument("--role", default=str(Role.ADMINISTRATOR), choices=[str(r) for r in Role])
    create.add_argument(
        "--address", action="append", required=True, help="a line of the postal address (repeat)"
    )
    create.add_argument("--letter", required=True, type=Path, help="where to write the PDF")


def create_account(args) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcProxy

    from pmp.config import load_settings

    settings = load_settings()
    config = {"AMQP_URI": settings.amqp_uri}
    try:
        with ClusterRpcProxy(config, timeout=settings.rpc_timeout, context_data=OPERATOR) as rpc:
            created = rpc.identity.create_account(
                email=args.email,
                first_name=args.first_name,
                last_name=args.last_name,
                role=args.role,
                address_lines=args.address,
            )
    except RemoteError as exc:
        print(f"pmp accounts create: {exc.value}", file=sys.stderr)
        return 1
    args.letter.write_bytes(base64.b64decode(created["letter_pdf"]))
    args.letter.chmod(0o600)
    print(f"Account {created['account_id']} created; its letter is in {args.letter}.")
    return 0
