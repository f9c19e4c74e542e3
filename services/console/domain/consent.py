"""The written consent of 42 CFR 2.31 as the patient reads it on the peer's phone (pure)."""
from __future__ import annotations

from dataclasses import dataclass

# The scope pairing records and referral reads: treatment, payment and health care operations, with the referral.
SCOPE = "treatment-referral"
FACILITY_SYSTEM = "urn:peerbridge:facility"


def recipients(facility: str) -> list[dict]:
    """The recipients the form names (2.31(a)(4)), as pairing records them: the ED's treating providers, by the
    facility's code (the health plan and the program's operations are the program's own, not disclosures to a
    recipient system)."""
    return [{"name": f"Treating providers at {facility}", "system": FACILITY_SYSTEM, "value": facility}]


@dataclass(frozen=True)
class Element:
    """One required element: the paragraph of 2.31(a) and what the form says for it."""

    paragraph: str
    title: str
    text: str


def elements(facility: str, program: str = "the peer recovery program") -> list[Element]:
    """The §2.31(a) elements, filled in for this ED visit (the patient's name is the hospital's record, not ours)."""
    return [
        Element("(a)(1)", "Patient", "The patient named in the hospital's record of this emergency visit."),
        Element("(a)(2)", "Who may disclose", f"{program.capitalize()} and its peer recovery specialists working "
                                              f"at {facility}."),
        Element("(a)(3)", "What may be disclosed", "That I met a peer recovery specialist, the referral for "
                "substance use support, the dates and length of our meetings, and follow-up contacts. This is "
                "substance use disorder information protected by 42 CFR Part 2."),
        Element("(a)(4)", "To whom", f"My treating providers at {facility} (through its health record), my health "
                "plan or Medicaid program for payment, and the people who help run this program (operations)."),
        Element("(a)(5)", "Why", "For my treatment and care coordination, for payment of the peer services, and "
                "for health care operations."),
        Element("(a)(6)", "My right to revoke", "I may revoke this consent at any time, in writing or by telling "
                "my peer, except for what was already disclosed relying on it. My treatment, payment, enrolment "
                "or eligibility do not depend on signing."),
        Element("(a)(7)", "Expiry", "This consent ends one year after I sign it, or when I revoke it."),
        Element("(a)(8)-(9)", "Signature and date", "I sign below; the date is recorded when the peer confirms."),
        Element("(a)(4)(iii)", "Redisclosure", "Records disclosed under this consent to a HIPAA covered entity may "
                "be redisclosed as HIPAA allows, and may not be used against me in a legal proceeding without my "
                "consent or a court order (42 CFR 2.12(d), 2.32)."),
    ]
