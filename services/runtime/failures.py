"""Which failures belong to the infrastructure (database or broker away) rather than to the message being handled."""
from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import Counter

INFRASTRUCTURE_FAILURES = Counter(
    "peerbridge_infrastructure_failures_total",
    "Database or broker unavailable; retried without limit, never counted against a message",
    ["component", "error_class"])


class DatabaseUnavailable(Exception):
    """No connection could be had, or the one in use was lost; the cause says how."""


# The server is shutting down, restarting or out of connections, or the connection itself failed (SQLSTATE classes
# 08, 53, 57P01-57P03); a refused, reset or broken socket while connecting or in use.
_INFRASTRUCTURE = (
    DatabaseUnavailable, asyncpg.PostgresConnectionError, asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError, asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InsufficientResourcesError, ConnectionError, KafkaTimeoutError,
)


def infrastructure_cause(exc: BaseException) -> BaseException | None:
    """The exception in exc's chain (itself, what it was raised from or while handling) that says the database or
    broker is away; None when the failure is the handler's own."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable) and current.__cause__ is not None:
            return current.__cause__
        if isinstance(current, _INFRASTRUCTURE) or (isinstance(current, KafkaError) and current.retriable):
            return current
        current = current.__cause__ or current.__context__
    return None
