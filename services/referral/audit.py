"""The append-only audit trail: one record per read and per disclosure, listed as JSON or as FHIR AuditEvent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

DCM = "http://dicom.nema.org/resources/ontology/DCM"
INTERACTIONS = {"read": "read", "vread": "vread", "history": "history-instance", "search": "search-type"}
OUTCOME_CODES = {"success": "0", "not-found": "4", "denied": "4", "bad-request": "4", "unauthenticated": "4",
                 "held": "4", "failed": "8"}


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when, why, and how it ended."""

    action: str
    actor: str
    purpose: str | None
    outcome: str
    actor_role: str | None = None
    resource_type: str | None = None
    resource_ids: tuple[str, ...] = ()
    referral_id: str | None = None
    destination: str | None = None
    status_code: int | None = None


async def record(conn: asyncpg.Connection, entry: AuditRecord, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO audit_log (recorded_at, action, actor, actor_role, purpose, resource_type, resource_ids,"
        " referral_id, destination, outcome, status_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        now, entry.action, entry.actor, entry.actor_role, entry.purpose, entry.resource_type,
        list(entry.resource_ids), entry.referral_id, entry.destination, entry.outcome, entry.status_code)


async def query(conn: asyncpg.Connection, *, referral_id: str | None = None, action: str | None = None,
                since: datetime | None = None, until: datetime | None = None, entity: str | None = None,
                limit: int = 100, offset: int = 0) -> tuple[int, list[asyncpg.Record]]:
    """Audit records, newest first, with the total that match."""
    clauses, args = [], []
    for sql, value in (("referral_id = ${}", referral_id), ("action = ${}", action),
                       ("recorded_at >= ${}", since), ("recorded_at < ${}", until),
                       ("${} = ANY(resource_ids)", entity)):
        if value is not None:
            args.append(value)
            clauses.append(sql.format(len(args)))
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    total = await conn.fetchval(f"SELECT count(*) FROM audit_log {where}", *args)
    rows = await conn.fetch(f"SELECT * FROM audit_log {where} ORDER BY seq DESC"
                            f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}", *args, limit, offset)
    return total, rows


def as_json(row: asyncpg.Record) -> dict:
    return {"id": row["seq"], "recorded_at": row["recorded_at"].isoformat(), "action": row["action"],
            "actor": row["actor"], "actor_role": row["actor_role"], "purpose": row["purpose"],
            "resource_type": row["resource_type"], "resource_ids": list(row["resource_ids"]),
            "referral_id": str(row["referral_id"]) if row["referral_id"] else None,
            "destination": row["destination"], "outcome": row["outcome"], "status_code": row["status_code"]}


# What leaves for a recipient: the referral, or the news that its consent ended (the Consent, inactive).
DISCLOSURES = frozenset({"disclosure", "revocation"})


def audit_event(row: asyncpg.Record) -> dict:
    """An R4 AuditEvent: a RESTful read (type rest) or a disclosure (DICOM Export)."""
    if row["action"] in DISCLOSURES:
        kind = {"system": DCM, "code": "110106", "display": "Export"}
        subtype = []
        action = "R"
    elif row["action"] not in INTERACTIONS:  # the plain API's referral status: not a FHIR interaction
        kind = {"system": DCM, "code": "110110", "display": "Patient Record"}
        subtype = []
        action = "R"
    else:
        kind = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
        subtype = [{"system": "http://hl7.org/fhir/restful-interaction", "code": INTERACTIONS[row["action"]]}]
        action = "E" if row["action"] == "search" else "R"
    agent = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                                  "code": "dataprocessor" if row["action"] in DISCLOSURES else "humanuser"}]},
             "who": {"identifier": {"system": "urn:peerbridge:subject", "value": row["actor"]}},
             "requestor": True}
    if row["purpose"]:  # none for a caller that never authenticated or declared a malformed one
        agent["purposeOfUse"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                              "code": row["purpose"]}]}]
    if row["actor_role"]:
        agent["role"] = [{"text": row["actor_role"]}]
    body = {"resourceType": "AuditEvent", "id": str(row["seq"]), "type": kind, "action": action,
            "recorded": row["recorded_at"].isoformat(), "outcome": OUTCOME_CODES.get(row["outcome"], "8"),
            "outcomeDesc": row["outcome"], "agent": [agent],
            "source": {"observer": {"display": "PeerBridge referral service"},
                       "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                                 "code": "4", "display": "Application Server"}]},
            "entity": [{"what": {"reference": f"{row['resource_type']}/{rid}"}} for rid in row["resource_ids"]
                       if row["resource_type"]]}
    if subtype:
        body["subtype"] = subtype
    if row["destination"]:
        agent_dest = {"type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
                      "who": {"display": row["destination"]}, "requestor": False}
        body["agent"].append(agent_dest)
    if not body["entity"]:
        del body["entity"]
    return body
