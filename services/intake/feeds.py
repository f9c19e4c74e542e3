"""What the HTTP app and every MLLP worker process build alike: the feeds' rules and the HL7 receiver."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from .domain.indications import load_rules
from .domain.hl7_plan import FeedConfig
from .receiver import Receiver
from .settings import IntakeSettings


def feed_config(settings: IntakeSettings) -> FeedConfig:
    """What the feeds may send, read once from settings."""
    return FeedConfig(rules=load_rules(settings.rules_file),
                      emergency_locations=settings.csv(settings.emergency_locations),
                      processing_ids=settings.csv(settings.processing_ids),
                      timezone=ZoneInfo(settings.feed_timezone))


def receiver(settings: IntakeSettings, pool, config: FeedConfig, clock) -> Receiver:
    """The HL7 receiver with its group-commit settings."""
    return Receiver(pool, config, clock, batch_max=settings.commit_batch_max, writers=settings.commit_writers)
