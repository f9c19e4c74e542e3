"""Topic names: <service>.<entity>.v<major>, with an optional prefix so test runs never share topics."""
from services.contracts import billing, event_classes, intake, notify, pairing, referral

INTAKE_VISIT = intake.TOPIC
PAIRING_ASSIGNMENT = pairing.TOPIC
REFERRAL_REFERRAL = referral.TOPIC
BILLING_CLAIM = billing.TOPIC
NOTIFY_REPLY = notify.REPLY_TOPIC
NOTIFY_DELIVERY = notify.DELIVERY_TOPIC

ALL = (INTAKE_VISIT, PAIRING_ASSIGNMENT, REFERRAL_REFERRAL, BILLING_CLAIM, NOTIFY_REPLY, NOTIFY_DELIVERY)

# Which events travel on which topic (each event's model names its topic): the AsyncAPI document is built from this.
EVENTS = {topic: tuple(name for name, cls in event_classes().items() if cls.topic == topic) for topic in ALL}


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}.dlq"
