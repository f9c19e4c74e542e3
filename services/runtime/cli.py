"""The `peerbridge` operator command: tokens, migrations, demo data."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone

from .auth import issue_token, local_secret
from .plugins import discover
from .settings import REPO_ROOT, CommonSettings

DEMO_DIR = REPO_ROOT / "deploy" / "demo"


def cmd_token(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    secret = local_secret(settings.jwt_secret, settings.jwt_secret_file)
    if args.role == "peer" and not args.specialist:
        print("warning: a peer token without --specialist sees no assignments", file=sys.stderr)
    if args.role == "ehr" and not args.facility:
        print("warning: an ehr token without --facility reads no referral Tasks", file=sys.stderr)
    print(issue_token(secret, role=args.role, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                      specialist_id=args.specialist, facilities=args.facility, ttl_seconds=args.ttl))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .db import migrate

    settings = CommonSettings()
    unknown = set(args.services) - set(discover())
    if unknown:
        print(f"migrate: unknown services {', '.join(sorted(unknown))}; one of {', '.join(discover())}",
              file=sys.stderr)
        return 2
    for name in args.services or discover():
        applied = asyncio.run(migrate(settings.database_url, name, discover()[name].migrations))
        print(f"{name}: {len(applied)} migration(s) applied")
    return 0


def demo_roster(roster: list[dict], now: datetime) -> list[dict]:
    """The demo roster dated from now: each certification expires `expires_in_days` after today."""
    for specialist in roster:
        for cert in specialist.get("certifications", []):
            cert["expires_on"] = (now.date() + timedelta(days=cert.pop("expires_in_days"))).isoformat()
    return roster


def demo_visits(visits: list[dict], now: datetime) -> list[dict]:
    """The demo feed is "now": visits arrive minutes ago, so pairing pages for them."""
    for visit in visits:
        visit["arrived_at"] = (now - timedelta(minutes=visit.pop("arrived_minutes_ago", 5))).isoformat()
    return visits


def service_url(settings) -> str:
    """Where a service of this configuration answers: its port, on its host (loopback when it binds every address)."""
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def cmd_demo(args: argparse.Namespace) -> int:
    import httpx

    settings = CommonSettings()
    intake = args.intake or service_url(discover()["intake"].settings())
    pairing = args.pairing or service_url(discover()["pairing"].settings())
    secret = local_secret(settings.jwt_secret, settings.jwt_secret_file)

    def headers(role: str) -> dict:
        token = issue_token(secret, role=role, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        return {"Authorization": f"Bearer {token}"}

    now = datetime.now(timezone.utc)
    roster = demo_roster(json.loads((DEMO_DIR / "roster.json").read_text()), now)
    visits = demo_visits(json.loads((DEMO_DIR / "visits.json").read_text()), now)
    with httpx.Client(timeout=10) as http:
        for specialist in roster:
            shifts = specialist.pop("shifts", [])
            r = http.post(f"{pairing}/specialists", json=specialist, headers=headers("admin"))
            if r.status_code == 201:
                r = http.put(f"{pairing}/specialists/{r.json()['id']}/shifts", json=shifts,
                             headers=headers("admin"))
            if r.status_code not in (200, 201, 409):
                print(f"roster: {r.status_code} {r.text}", file=sys.stderr)
                return 1
        # The EDs' names, addresses and NPIs, which billing's 837P needs (loop 2310C) to let their claims go out.
        billing = args.billing or service_url(discover()["billing"].settings())
        for facility in json.loads((DEMO_DIR / "facilities.json").read_text()):
            r = http.post(f"{billing}/facilities", json=facility, headers=headers("billing"))
            if r.status_code != 200:
                print(f"facility: {r.status_code} {r.text}", file=sys.stderr)
                return 1
        for visit in visits:
            r = http.post(f"{intake}/visits", json=visit, headers=headers("ehr"))
            if r.status_code >= 300:
                print(f"visit: {r.status_code} {r.text}", file=sys.stderr)
                return 1
    print(f"demo: {len(roster)} specialists, {len(visits)} ED visits, their EDs registered with billing")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from .dead_letters import list_dead_letters, replay_dead_letters

    settings = CommonSettings()
    if args.action == "list":
        rows = asyncio.run(list_dead_letters(settings.database_url, args.service))
        for r in rows:
            print(f"{r['id']}\t{r['failed_at']:%Y-%m-%dT%H:%M:%SZ}\t{r['topic']}[{r['kafka_partition']}]@{r['kafka_offset']}"
                  f"\t{r['error_class']}\t{'replayed' if r['replayed_at'] else 'waiting'}")
        return 0
    count = asyncio.run(replay_dead_letters(settings.database_url, settings.kafka_bootstrap_servers,
                                            args.service, ids=args.id))
    print(f"{count} dead letter(s) re-published to their origin topic")
    return 0


def cmd_asyncapi(args: argparse.Namespace) -> int:
    from .asyncapi import render

    print(render(), end="")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from services.contracts.schemas import write

    written = write(REPO_ROOT / "schemas" / "events")
    print(f"{len(written)} event schemas written to schemas/events/ from services/contracts")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    services = discover()
    own = services[argv[0]].module("cli") if argv and argv[0] in services else None
    if own is not None:
        # A service's own commands (`peerbridge intake replay ...`): the console script only routes to them.
        return own.main(argv[1:])
    parser = argparse.ArgumentParser(prog="peerbridge", description="PeerBridge operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a bearer token the local stack accepts")
    token.add_argument("--role", required=True, choices=["ehr", "peer", "supervisor", "billing", "admin", "privacy"])
    token.add_argument("--specialist", help="bind a peer token to this specialist id")
    token.add_argument("--facility", action="append",
                       help="bind an ehr token to this facility code (repeatable): it reads that facility's Tasks")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)
    mig = sub.add_parser("migrate", help="apply pending database migrations")
    mig.add_argument("services", nargs="*", help=f"some of {', '.join(services)} (default: all)")
    mig.set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="load the demo roster and replay the demo ED feed")
    demo.add_argument("--intake", help="intake's base URL (default: PEERBRIDGE_HOST and INTAKE_PORT)")
    demo.add_argument("--pairing", help="pairing's base URL (default: PEERBRIDGE_HOST and PAIRING_PORT)")
    demo.add_argument("--billing", help="billing's base URL (default: PEERBRIDGE_HOST and BILLING_PORT)")
    demo.set_defaults(func=cmd_demo)
    dead = sub.add_parser("dead-letters", help="list or replay a service's dead-lettered events")
    dead.add_argument("action", choices=["list", "replay"])
    dead.add_argument("--service", required=True, choices=list(services))
    dead.add_argument("--id", type=int, action="append", help="replay only these (repeatable); default: all waiting")
    dead.set_defaults(func=cmd_dead_letters)
    for name, plugin in services.items():
        if plugin.module("cli") is not None:
            sub.add_parser(name, help=f"{name}'s own commands: `peerbridge {name} --help`")
    asyncapi = sub.add_parser("asyncapi", help="print the AsyncAPI 3 document of all topics and events")
    asyncapi.set_defaults(func=cmd_asyncapi)
    schemas = sub.add_parser("schemas", help="write schemas/events/*.json from the contract models")
    schemas.set_defaults(func=cmd_schemas)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
