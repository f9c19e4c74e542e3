"""Topic names: <service>.<entity>.v<major>, with an optional prefix so test runs never share topics."""

INTAKE_VISIT = "intake.visit.v1"
PAIRING_ASSIGNMENT = "pairing.assignment.v1"
REFERRAL_REFERRAL = "referral.referral.v1"
BILLING_CLAIM = "billing.claim.v1"

ALL = (INTAKE_VISIT, PAIRING_ASSIGNMENT, REFERRAL_REFERRAL, BILLING_CLAIM)

# Which events travel on which topic: the AsyncAPI document and the contract tests are built from this.
EVENTS = {
    INTAKE_VISIT: ("EdVisitRegistered", "EdVisitUpdated", "PeerSupportIndicated", "EdVisitDischarged",
                   "EdVisitCancelled"),
    PAIRING_ASSIGNMENT: ("PeerAssignmentOffered", "PeerAssignmentAccepted", "PeerAssignmentDeclined",
                         "PeerAssignmentExpired", "PeerAssignmentWithdrawn", "NoPeerAvailable", "PeerArrived",
                         "ConsentRecorded", "PeerEncounterCompleted", "CaseClosed"),
    REFERRAL_REFERRAL: ("ReferralCreated", "ReferralStatusChanged", "DisclosureHeld", "DisclosureSent"),
    BILLING_CLAIM: ("ClaimPrepared", "ClaimHeld", "BatchExported"),
}


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}.dlq"
