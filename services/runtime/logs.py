"""structlog JSON logging that drops every key not on an allow-list, so PHI cannot leak into logs; library loggers
(aiokafka, asyncpg, uvicorn: everything through stdlib logging) go through the same chain, and their repeats are
rate-limited so an outage cannot flood the log."""
from __future__ import annotations

import logging
import sys
import time
from typing import Callable

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
    "version", "role", "reason_code", "outcome", "state", "migration", "schema", "suppressed",
})
DEFAULT_REPEAT_SECONDS = 10.0


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


def _library_record(_logger, _method, event_dict: dict) -> dict:
    """A stdlib record as an event: its message template (the arguments, like an exception's text, can quote patient
    data), its logger, the exception's class instead of its traceback, and the count of repeats suppressed."""
    record: logging.LogRecord = event_dict["_record"]
    event_dict["logger"] = record.name
    exc_info = event_dict.pop("exc_info", None)
    event_dict.pop("stack_info", None)
    if exc_info and exc_info[0] is not None:
        event_dict["error_class"] = exc_info[0].__name__
    suppressed = getattr(record, "suppressed", 0)
    if suppressed:
        event_dict["suppressed"] = suppressed
    return event_dict


class RepeatFilter(logging.Filter):
    """One line per interval for each repeated library message (same logger, level and template); the next line
    let through says how many were suppressed since the last one."""

    def __init__(self, interval_seconds: float, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval_seconds
        self.clock = clock
        self._seen: dict[tuple, list] = {}  # key -> [time last let through, suppressed since]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval:
            seen[1] += 1
            return False
        record.suppressed = seen[1] if seen else 0
        self._seen[key] = [now, 0]
        if len(self._seen) > 1000:  # templates are few; bound the memory all the same
            self._seen.pop(next(iter(self._seen)))
        return True


class _LineHandler(logging.StreamHandler):
    """Writes each formatted line, newline included, in one write (of bytes where the stream has a buffer)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            binary = getattr(self.stream, "buffer", None)
            if binary is not None:
                binary.write(line.encode())
                binary.flush()
            else:
                self.stream.write(line)
                self.flush()
        except Exception:
            self.handleError(record)


def configure_logging(service: str, level: str = "INFO", stream=None, *,
                      repeat_seconds: float = DEFAULT_REPEAT_SECONDS,
                      clock: Callable[[], float] = time.monotonic) -> None:
    """Route structlog and stdlib logging to JSON lines on stderr (or the given stream)."""
    stream = stream or sys.stderr
    # Each line goes out in one write of bytes: intake's listener processes share one stderr, and a line written
    # in two parts (text, then its newline) can be split by another process's line. orjson keeps a line cheap
    # enough to log every HL7 message.
    binary = getattr(stream, "buffer", None)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, drop_unsafe_keys,
                    structlog.processors.JSONRenderer(serializer=orjson.dumps if binary is not None else _text)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=(structlog.BytesLoggerFactory(binary) if binary is not None
                        else structlog.PrintLoggerFactory(stream)),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers: warnings only, through the same allow-list and renderer, repeats rate-limited (a broker
    # outage once wrote 15,000 lines in 20 s).
    handler = _LineHandler(stream)
    handler.addFilter(RepeatFilter(repeat_seconds, clock))
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[_library_record, *shared], use_get_message=False,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, drop_unsafe_keys,
                    structlog.processors.JSONRenderer(serializer=_text)]))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    # Access logs print raw paths, and paths carry visit numbers.
    logging.getLogger("uvicorn.access").disabled = True
