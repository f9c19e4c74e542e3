"""structlog JSON logging that drops every key not on an allow-list, so PHI cannot leak into logs."""
from __future__ import annotations

import logging
import sys

import orjson
import structlog

# Keys that can never hold patient data: internal ids, event plumbing, counts and timings.
SAFE_KEYS = frozenset({
    "event", "level", "timestamp", "logger", "service",
    "event_id", "event_type", "correlation_id", "causation_id", "trace_id",
    "topic", "partition", "offset", "consumer_group", "attempt", "error_class",
    "count", "duration_ms", "status_code", "method", "route", "port",
    "assignment_id", "specialist_id", "case_id", "claim_id", "batch_id", "message_id",
    "referral_id", "encounter_id", "resource_type", "facility", "message_type", "ack_code", "sql_state",
    "version", "role", "reason_code", "outcome", "state", "migration", "schema",
})


def drop_unsafe_keys(_logger, _method, event_dict: dict) -> dict:
    """Remove every key not on the allow-list; count what was dropped."""
    dropped = [k for k in event_dict if k not in SAFE_KEYS]
    for key in dropped:
        del event_dict[key]
    if dropped:
        event_dict["dropped_keys"] = len(dropped)
    return event_dict


def _text(event_dict, **kwargs) -> str:
    return orjson.dumps(event_dict, **kwargs).decode()


def configure_logging(service: str, level: str = "INFO", stream=None) -> None:
    """Route structlog and stdlib logging to JSON lines on stderr (or the given stream)."""
    stream = stream or sys.stderr
    # Each line goes out in one write of bytes: intake's listener processes share one stderr, and a line written
    # in two parts (text, then its newline) can be split by another process's line. orjson keeps a line cheap
    # enough to log every HL7 message.
    binary = getattr(stream, "buffer", None)
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_unsafe_keys,
        structlog.processors.JSONRenderer(serializer=orjson.dumps if binary is not None else _text),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=(structlog.BytesLoggerFactory(binary) if binary is not None
                        else structlog.PrintLoggerFactory(stream)),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers: warnings only; tracebacks reduced to the exception class, because an exception's
    # text (a unique-key violation, a validation error) can quote the patient data that caused it.
    handler = logging.StreamHandler(stream)
    handler.addFilter(_strip_exception_text)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    # Access logs print raw paths, and paths carry visit numbers.
    logging.getLogger("uvicorn.access").disabled = True


def _strip_exception_text(record: logging.LogRecord) -> bool:
    """Replace a record's traceback with the exception's class name."""
    if record.exc_info and record.exc_info[0] is not None:
        record.msg = f"{record.getMessage()} [{record.exc_info[0].__name__}]"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
    return True
