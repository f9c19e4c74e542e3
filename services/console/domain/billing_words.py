"""Billing's codes as a biller reads them: why a claim is held and what fixes it, statuses, money, months."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

# code -> (why, in words; what fixes it). Codes from billing's README ("Holds").
HOLDS: dict[str, tuple[str, str]] = {
    "unknown-payer": ("The patient's insurance plan is not one we bill, or no rules are in effect on the date.",
                      "Correct the plan in the hospital record (an update re-prices the claim), or add the payer's "
                      "rules."),
    "no-member-id": ("The visit has no Medicaid member id.", "Add the member id in the hospital record."),
    "no-diagnosis": ("The visit has no diagnosis.", "Add the diagnosis in the hospital record."),
    "no-qualifying-diagnosis": ("No diagnosis is in the range this payer covers.",
                                "Add a qualifying diagnosis in the hospital record, if documented."),
    "under-minimum-age": ("The patient is younger than this payer's minimum age.",
                          "Not billable to this payer; void or leave held."),
    "age-unknown": ("The patient's age is unknown and this payer has a minimum age.",
                    "Add the birth date in the hospital record."),
    "peer-not-credentialed": ("The peer had no valid credential for this state on the date of service.",
                              "Update the peer's credential in the roster, then approve again."),
    "rendering-npi-invalid": ("The peer's NPI fails its check digit.", "Correct the peer's NPI in the roster."),
    "too-few-minutes": ("The minutes documented make no billable unit.",
                        "Not billable unless the documented minutes were wrong."),
    "cap-reached": ("The day, period or episode limit of units is used up.", "Not billable; leave held or void."),
    "past-timely-filing": ("Prepared after the payer's filing limit.", "Not billable unless the payer grants an "
                           "exception."),
    "modifier-not-allowed": ("A modifier the payer denies, or more than four.", "Check the modality of the session."),
    "visit-cancelled": ("The visit was cancelled or merged in the hospital record.", "Nothing to bill; leave held."),
    "duplicate-session": ("Another claim already bills this session.", "Never sent; nothing to do."),
    "manual": ("Held by a biller.", "Approve when resolved."),
    "future-date-of-service": ("The date of service is after today.", "Approve again once the day has come."),
    "no-service-facility": ("Billing knows no name, address and NPI for this ED.",
                            "Register the facility (billing's POST /facilities), then approve again."),
    "units-exceed-minutes": ("The units billed exceed what the minutes support.",
                             "Correct the minutes, then approve again."),
    "no-payer-claim-number": ("The original has no payer claim number yet (no 277CA or 835).",
                              "Wait for the 277CA, then approve again."),
    "no-subscriber-demographics": ("The patient's name, birth date or address is incomplete in intake.",
                                   "Complete the patient's data in the hospital record, then approve again."),
}
# Holds a biller may lift by approving (billing checks them again at the next batch).
APPROVABLE = {"manual", "no-subscriber-demographics", "no-service-facility", "future-date-of-service",
              "no-payer-claim-number", "units-exceed-minutes", "peer-not-credentialed"}
STATUS = {"prepared": "ready", "awaiting-visit": "waiting for the visit", "approved": "approved, not yet sent",
          "exported": "sent", "accepted": "accepted by the payer", "rejected": "rejected", "paid": "paid",
          "denied": "denied", "reversed": "payment reversed", "replaced": "replaced", "voided": "voided",
          "held": "held"}
BATCH_STATUS = {"exported": "sent, no 999 yet", "accepted": "accepted (999)",
                "accepted-with-errors": "accepted with errors (999)",
                "partially-accepted": "partially accepted (999)", "rejected": "rejected (999)"}
FREQUENCY = {"1": "original", "7": "replacement", "8": "void"}


def hold(code: str) -> str:
    """Why a claim is held, in words (the code itself when it is new to the console)."""
    return HOLDS.get(code, (code, ""))[0]


def fix(code: str) -> str:
    return HOLDS.get(code, ("", "See billing's README for this hold."))[1]


def approvable(reasons: list[dict]) -> bool:
    """A held claim a biller may approve: every hold is one billing lifts on approval."""
    return bool(reasons) and all(r.get("code") in APPROVABLE for r in reasons)


def status(code: str) -> str:
    return STATUS.get(code, code)


def batch_status(code: str) -> str:
    return BATCH_STATUS.get(code, code)


def by_status(counts: dict[str, int] | None) -> str:
    """A batch's claims by status in words, largest first: "2 paid, 1 denied"."""
    items = sorted((counts or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{n} {status(s)}" for s, n in items) or "none"


def money(amount: object) -> str:
    """Dollars with two decimals and thousands separators ("$1,234.50"); a dash when unknown."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def months_back(day: date, count: int = 6) -> list[str]:
    """This month and the `count - 1` before it, newest first (YYYY-MM), for the CSV's month choice."""
    year, mon = day.year, day.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out


def diagnoses(text: str) -> list[str]:
    """ICD-10-CM codes from what a biller typed (commas or spaces, any case), principal first, no repeats."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        code = part.strip().upper()
        if code and code not in out:
            out.append(code)
    return out


def icd10(code: str) -> str:
    """An ICD-10-CM code as people write it: a dot after the category ("F1120" -> "F11.20")."""
    code = code.strip().upper()
    return code if len(code) <= 3 or "." in code else f"{code[:3]}.{code[3:]}"


# 999 IK3-04 (segment) and IK4-03 (element) syntax error codes, 005010X231A1.
IK3 = {"1": "unrecognized segment", "2": "unexpected segment", "3": "required segment missing",
       "4": "loop occurs too often", "5": "segment used too often", "6": "segment not in the transaction set",
       "7": "segment out of sequence", "8": "segment has data element errors",
       "I4": "segment the guide does not use", "I6": "situational segment missing",
       "I7": "loop occurs too few times", "I8": "segment used too few times",
       "I9": "situational segment present where not used"}
IK4 = {"1": "required element missing", "2": "conditional element missing", "3": "too many elements",
       "4": "element too short", "5": "element too long", "6": "invalid character", "7": "invalid code value",
       "8": "invalid date", "9": "invalid time", "10": "exclusion condition violated", "12": "too many repetitions",
       "13": "too many components", "I6": "code value the guide does not use", "I9": "situational element missing",
       "I10": "element the guide does not use", "I12": "element does not match the guide's pattern"}


def ack_errors(acknowledgement: dict | None) -> list[str]:
    """A 999's segment and element errors in words, by position (no data values are in a 999)."""
    out = []
    for tx in (acknowledgement or {}).get("sets", []):
        for e in tx.get("errors", []):
            if "segment_id" in e:
                out.append(f"{e['segment_id']} (segment {e.get('position')}): "
                           f"{IK3.get(str(e.get('code')), 'error ' + str(e.get('code')))}")
            elif "element" in e:
                out.append(f"element {e['element']}: {IK4.get(str(e.get('code')), 'error ' + str(e.get('code')))}")
    return out
