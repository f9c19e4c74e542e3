"""`peerbridge console ...`: add a sign-in account; create the demo accounts of `make run`."""
from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from pathlib import Path

from services.runtime.auth import issue_token, local_secret
from services.runtime.clock import SystemClock
from services.runtime.db import create_pool, migrate
from services.runtime.settings import REPO_ROOT

from .service import ConsoleService
from .settings import ConsoleSettings

DEMO_ROSTER = REPO_ROOT / "deploy" / "demo" / "roster.json"
MIGRATIONS = Path(__file__).with_name("migrations")


async def _add(settings: ConsoleSettings, accounts: list[dict]) -> None:
    await migrate(settings.database_url, "console", MIGRATIONS)  # before the console first started, too
    pool = await create_pool(settings.database_url, "console", min_size=1, max_size=2)
    try:
        service = ConsoleService(pool, SystemClock(), idle=None, lifetime=None)
        for account in accounts:
            await service.add_account(**account)
    finally:
        await pool.close()


def cmd_add(args: argparse.Namespace) -> int:
    password = args.password or secrets.token_urlsafe(9)
    try:
        asyncio.run(_add(ConsoleSettings(), [{"username": args.username, "password": password, "roles": args.role,
                                              "display_name": args.name or args.username,
                                              "specialist_id": args.specialist}]))
    except ValueError as exc:
        print(f"console account add: {exc}", file=sys.stderr)
        return 2
    print(f"{args.username}: {', '.join(args.role)}" + ("" if args.password else f", password {password}"))
    return 0


def demo_specialist(settings: ConsoleSettings) -> dict | None:
    """The demo roster's first peer as pairing knows it (by NPI), with the id a peer account is bound to."""
    import httpx

    npi = json.loads(DEMO_ROSTER.read_text())[0]["npi"]
    token = issue_token(local_secret(settings.jwt_secret, settings.jwt_secret_file), role="admin",
                        issuer=settings.jwt_issuer, audience=settings.jwt_audience, subject="console-demo",
                        ttl_seconds=60)
    r = httpx.get(f"{settings.pairing_url.rstrip('/')}/specialists", headers={"Authorization": f"Bearer {token}"},
                  timeout=10)
    r.raise_for_status()
    return next((s for s in r.json() if s.get("npi") == npi), None)


def cmd_demo(args: argparse.Namespace) -> int:
    settings = ConsoleSettings()
    peer = demo_specialist(settings)
    if peer is None:
        print("console demo: the demo roster is not loaded (peerbridge demo first)", file=sys.stderr)
        return 1
    accounts = [
        {"username": "peer", "roles": ["peer"], "display_name": peer["name"], "specialist_id": peer["id"]},
        {"username": "supervisor", "roles": ["supervisor"], "display_name": "Demo Supervisor"},
        {"username": "biller", "roles": ["billing"], "display_name": "Demo Biller"},
    ]
    for account in accounts:  # fresh passwords each run: the local stack has no fixed, guessable credentials
        account["password"] = secrets.token_urlsafe(9)
    asyncio.run(_add(settings, accounts))
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    print(f"console: http://{host}:{settings.port}/  (a phone-sized window: 390 x 844)")
    for account in accounts:
        bound = f" (acts as {peer['name']})" if account.get("specialist_id") else ""
        print(f"  sign in as {account['roles'][0]:<10} user {account['username']:<10} "
              f"password {account['password']}{bound}")
    return 0


def main(argv: list[str]) -> int:
    from services.runtime.logs import configure_logging

    configure_logging("console", "WARNING")  # JSON on stderr, warnings only: stdout is what a person reads
    parser = argparse.ArgumentParser(prog="peerbridge console", description="the console's own commands")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-account", help="create (or reset) a sign-in account")
    add.add_argument("--username", required=True)
    add.add_argument("--password", help="default: a random one, printed")
    add.add_argument("--role", action="append", required=True,
                     choices=["peer", "supervisor", "billing", "admin"], help="repeatable")
    add.add_argument("--name", help="the name shown on the pages")
    add.add_argument("--specialist", help="a peer account acts as this specialist (pairing's id)")
    add.set_defaults(func=cmd_add)
    demo = sub.add_parser("demo", help="create the demo peer, supervisor and biller accounts and print how to sign in")
    demo.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return args.func(args)
