"""MLLP over TCP (optionally TLS): 0x0B message 0x1C 0x0D frames, one ACK per frame, per-connection limits."""
from __future__ import annotations

import asyncio
import ssl
from typing import Awaitable, Callable

import structlog
from prometheus_client import Counter

log = structlog.get_logger("intake.mllp")
CLOSED = Counter("peerbridge_intake_mllp_connections_closed_total", "MLLP connections closed, by why", ["outcome"])
START, END = b"\x0b", b"\x1c\x0d"

Handler = Callable[[bytes], Awaitable[bytes | None]]
# Called with the start of a frame that exceeded the size limit and the frame's full size; returns the reply.
OversizedHandler = Callable[[bytes, int], Awaitable[bytes | None]]
_DISCARD_LIMIT = 64  # an oversized frame longer than this many size limits is not drained: the connection is closed


class FrameTooLarge(Exception):
    """A frame exceeded the connection's size limit; its start is kept, the rest was read and dropped."""

    def __init__(self, head: bytes = b"", size: int = 0, drained: bool = False):
        super().__init__(size)
        self.head = head
        self.size = size
        self.drained = drained


class FrameDeadline(Exception):
    """A frame was started but not ended within the per-frame deadline (a stalled or trickling sender)."""


async def read_frame(reader: asyncio.StreamReader, limit: int, *, idle_seconds: float | None = None,
                     frame_seconds: float | None = None) -> bytes | None:
    """The next frame's payload (the reader's buffer limit is the size limit); bytes outside a frame are skipped;
    None at end of stream. Waits idle_seconds for a frame to start (TimeoutError), then frame_seconds for it to end
    (FrameDeadline)."""
    try:
        async with asyncio.timeout(idle_seconds):
            await _skip_to_start(reader)
    except asyncio.IncompleteReadError:
        return None
    try:
        async with asyncio.timeout(frame_seconds):
            try:
                data = await reader.readuntil(END)
            except asyncio.LimitOverrunError as exc:
                raise await _drain_oversized(reader, exc.consumed, limit) from exc
    except TimeoutError:
        raise FrameDeadline() from None
    except asyncio.IncompleteReadError:
        return None
    start = data.rfind(START)  # a sender that restarted a frame: the last start counts
    return data[start + 1:-len(END)]


async def _skip_to_start(reader: asyncio.StreamReader) -> None:
    """Read past the next frame start; whatever comes before it is not a frame and is dropped."""
    while True:
        try:
            await reader.readuntil(START)
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)


async def _drain_oversized(reader: asyncio.StreamReader, consumed: int, limit: int) -> FrameTooLarge:
    """Keep the start of a frame that is too large and read past its end, so the connection can go on."""
    head = await reader.readexactly(consumed)
    size = len(head)
    head = head[:limit]  # the buffer may hold more than the limit by the time the overrun is noticed
    while size <= limit * _DISCARD_LIMIT:
        try:
            size += len(await reader.readuntil(END)) - len(END)
            return FrameTooLarge(head, size, drained=True)
        except asyncio.LimitOverrunError as exc:
            size += len(await reader.readexactly(exc.consumed))
        except asyncio.IncompleteReadError:
            break
    return FrameTooLarge(head, size)


def server_ssl_context(cert: str | None, key: str | None, client_ca: str | None = None) -> ssl.SSLContext | None:
    """TLS for the listener when a certificate is configured; client certificates required when a CA is given."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class MllpServer:
    """Accepts many connections; each reads frames in order and answers each before reading the next."""

    def __init__(self, handler: Handler, *, host: str, port: int, max_bytes: int = 1_048_576,
                 idle_seconds: float = 300.0, frame_seconds: float = 30.0, max_connections: int = 100,
                 ssl_context: ssl.SSLContext | None = None, reuse_port: bool = False,
                 on_oversized: OversizedHandler | None = None):
        self.handler = handler
        self.frame_seconds = frame_seconds
        self.max_connections = max_connections
        self.on_oversized = on_oversized
        self.host = host
        self.port = port
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds
        self.ssl_context = ssl_context
        self.reuse_port = reuse_port
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.ssl_context,
                                                 limit=self.max_bytes, reuse_port=self.reuse_port or None)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("mllp_listening", port=self.port)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)
        if self.server:
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.connections) >= self.max_connections:
            # Closed at once rather than left waiting: the sender sees the failure now and retries from its queue,
            # instead of timing out on a connection that may be served after it gave up (and then resent).
            log.warning("mllp_connection_refused", reason="max-connections", limit=self.max_connections)
            CLOSED.labels("over-capacity").inc()
            writer.close()
            return
        task = asyncio.current_task()
        self.connections.add(task)
        outcome = "closed"
        try:
            while True:
                try:
                    frame = await read_frame(reader, self.max_bytes, idle_seconds=self.idle_seconds,
                                             frame_seconds=self.frame_seconds)
                except FrameTooLarge as big:
                    if not (big.drained and self.on_oversized):
                        raise
                    # Answered (AR) rather than dropped: a sender that never gets an ACK resends the same
                    # message forever and the feed behind it stalls.
                    reply = await self.on_oversized(big.head, big.size)
                else:
                    if frame is None:
                        break
                    reply = await self.handler(frame)  # an empty frame too: it is answered AR, never ignored
                if reply is not None:
                    writer.write(START + reply + END)
                    try:
                        # A sender that does not read its ACKs holds a slot like one that does not send: same limit.
                        async with asyncio.timeout(self.frame_seconds):
                            await writer.drain()
                    except TimeoutError:
                        raise FrameDeadline() from None
        except FrameDeadline:
            outcome = "frame-deadline"
        except asyncio.TimeoutError:
            outcome = "idle-timeout"
        except FrameTooLarge:
            outcome = "frame-too-large"
        except (ConnectionError, ssl.SSLError):
            outcome = "connection-error"
        except asyncio.CancelledError:
            outcome = "shutdown"
        except Exception as exc:  # nothing could be stored: no ACK, so the sender keeps the message and retries
            outcome = "store-failed"
            log.error("mllp_frame_failed", error_class=type(exc).__name__)
        finally:
            self.connections.discard(task)
            CLOSED.labels(outcome).inc()
            log.info("mllp_connection_closed", outcome=outcome)
            writer.close()
            try:
                await writer.wait_closed()
            except Exception:
                pass
