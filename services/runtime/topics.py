"""Topic names: <service>.<entity>.v<major>, with an optional prefix so test runs never share topics."""

INTAKE_VISIT = "intake.visit.v1"
PAIRING_ASSIGNMENT = "pairing.assignment.v1"
REFERRAL_REFERRAL = "referral.referral.v1"
BILLING_CLAIM = "billing.claim.v1"

ALL = (INTAKE_VISIT, PAIRING_ASSIGNMENT, REFERRAL_REFERRAL, BILLING_CLAIM)


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}.dlq"
