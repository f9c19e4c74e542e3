"""Prometheus metrics: messages by channel, kind and outcome; send latency; facilities nobody covers (no PHI)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("notify_messages_total", "Message outcomes by channel and kind (queued, sent, delivered, failed,"
                   " retried, fallback, cancelled, replied)", ["channel", "kind", "outcome"])
UNREACHABLE = Counter("notify_recipients_unreachable_total", "Messages that had nobody or no verified contact to go to",
                      ["kind", "reason"])
SEND_SECONDS = Histogram("notify_send_seconds", "Time the channel took to accept a message", ["channel"],
                         buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
QUEUE_SECONDS = Histogram("notify_queue_seconds", "From queued to handed to the channel", ["channel"],
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
REPLIES = Counter("notify_replies_total", "Texts received, by what they said and what came of it",
                  ["answer", "outcome"])
UNCOVERED = Gauge("notify_escalation_uncovered", "1 when a facility has nobody reachable to escalate to now",
                  ["facility"])
ALERT_REPEATS = Counter("notify_alert_repeats_total", "Supervisor alerts sent again, unacknowledged", ["outcome"])
