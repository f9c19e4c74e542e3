"""A peer's roster record from the supervisor's form, and back (pure): the fields pairing's SpecialistIn takes."""
from __future__ import annotations

from datetime import date

LIVED = ("opioids", "alcohol", "stimulants", "cannabis", "sedatives", "polysubstance")
STATUSES = {"active": "Active", "on-leave": "On leave", "inactive": "Inactive"}
GENDERS = {"": "Not recorded", "female": "Female", "male": "Male", "nonbinary": "Non-binary", "other": "Other"}


def _list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]


def certifications_text(certs: list[dict]) -> str:
    """One certification a line: "CPRS 12345 NJ 2027-05-01" (kind, number, state, expiry), then the CE due date
    when there is one ("CPRS 12345 NJ 2027-05-01 2027-03-01")."""
    keys = ("kind", "number", "state", "expires_on", "ce_due_on")
    return "\n".join(" ".join(str(c.get(k) or "-") for k in keys).removesuffix(" -") for c in certs)


def parse_certifications(text: str) -> tuple[list[dict], list[str]]:
    certs, problems = [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (4, 5):
            problems.append(f"Certification line {n}: give kind, number, state (or -), expiry (YYYY-MM-DD) and, if "
                            "known, the CE due date.")
            continue
        kind, number, state, expires = parts[:4]
        ce_due = parts[4] if len(parts) == 5 and parts[4] != "-" else None
        try:
            for day in (expires, ce_due):
                if day is not None:
                    date.fromisoformat(day)
        except ValueError:
            problems.append(f"Certification line {n}: {expires!r} or {ce_due!r} is not a date (YYYY-MM-DD).")
            continue
        cert = {"kind": kind, "number": number, "state": None if state == "-" else state, "expires_on": expires}
        certs.append({**cert, "ce_due_on": ce_due} if ce_due else cert)
    return certs, problems


def peer_record(form: dict[str, str], lived: list[str], existing: dict | None = None) -> tuple[dict, list[str]]:
    """The full record to send (an edit keeps what the form does not show: race, ethnicity); the problems found."""
    problems: list[str] = []
    record = {k: v for k, v in (existing or {}).items() if k in ("race", "ethnicity")}
    record["name"] = (form.get("name") or "").strip()
    record["npi"] = (form.get("npi") or "").strip()
    if not record["name"]:
        problems.append("Give the peer's name.")
    record["gender"] = form.get("gender") or None
    for key in ("birth_year", "caseload_cap"):
        raw = (form.get(key) or "").strip()
        if raw:
            try:
                record[key] = int(raw)
            except ValueError:
                problems.append(f"{key.replace('_', ' ').capitalize()} must be a whole number.")
    record["languages"] = _list(form.get("languages")) or ["en"]
    record["certifications"], cert_problems = parse_certifications(form.get("certifications", ""))
    problems += cert_problems
    since = (form.get("recovery_since") or "").strip()
    record["recovery_since"] = since or None
    record["lived_experience"] = [x for x in lived if x in LIVED]
    record["pathways"] = _list(form.get("pathways"))
    record["facilities"] = _list(form.get("facilities"))
    record["telehealth"] = form.get("telehealth") == "on"
    record["status"] = form.get("status") if form.get("status") in STATUSES else "active"
    record["status_reason"] = (form.get("status_reason") or "").strip()[:64] or None
    return record, problems
