"""The MLLP listener over real sockets: framing, concurrent connections, size limit, idle timeout, TLS."""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.intake.domain.hl7 import parse
from services.intake.mllp import END, START, MllpServer, server_ssl_context
from services.intake.replay import replay
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.integration


LIMIT = 64 * 1024


@pytest.fixture
async def listener(receiver):
    async def oversized(head: bytes, size: int) -> bytes | None:
        return await receiver.handle_oversized(head, size, LIMIT)

    server = MllpServer(receiver.handle_frame, host="127.0.0.1", port=0, max_bytes=LIMIT, idle_seconds=1.0,
                        on_oversized=oversized)
    await server.start()
    yield server
    await server.stop()


async def exchange(port: int, frames: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = []
    for frame in frames:
        writer.write(START + frame + END)
        await writer.drain()
        data = await asyncio.wait_for(reader.readuntil(END), 10)
        assert data.startswith(START)
        replies.append(data[1:-2])
    writer.close()
    return replies


async def closed_without_reply(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection sending nothing: FIN, or RST when it closed with our bytes still unread."""
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""
    except ConnectionResetError:
        return True


async def test_many_connections_each_get_their_own_acks_in_order(listener, intake_pool):
    async def client(n: int) -> list[str]:
        ids = [f"C{n}-{i}" for i in range(5)]
        replies = await exchange(listener.port, [adt("A04", visit_number=f"V{n}-{i}", control_id=c)
                                                 for i, c in enumerate(ids)])
        return [parse(r).get("MSA", 2) for r in replies] == ids

    assert all(await asyncio.gather(*(client(n) for n in range(20))))
    assert await intake_pool.fetchval("SELECT count(*) FROM messages WHERE status = 'accepted'") == 100


async def test_lf_segments_a_bom_and_junk_between_frames_are_tolerated(listener):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"\r\n\x00" + START + b"\xef\xbb\xbf" + adt("A04", control_id="LF-1", sep="\n") + END)
    await writer.drain()
    reply = await asyncio.wait_for(reader.readuntil(END), 10)
    assert parse(reply[1:-2]).first("MSA").fields[1:3] == ["AA", "LF-1"]
    writer.close()


async def test_an_oversized_frame_is_refused_with_AR_and_the_connection_goes_on(listener, receiver, intake_pool):
    big = adt("A04", control_id="BIG-1").replace(b"EVN|", b"NTE|1||" + b"Z" * 100_000 + b"\rEVN|")
    replies = await exchange(listener.port, [big, adt("A04", control_id="AFTER-1")])
    big_ack = parse(replies[0])
    assert big_ack.first("MSA").fields[1:3] == ["AR", "BIG-1"]
    assert big_ack.first("ERR").fields[3].startswith("102^") and str(len(big)) in big_ack.first("ERR").fields[8]
    assert parse(replies[1]).first("MSA").fields[1:3] == ["AA", "AFTER-1"]
    row = await intake_pool.fetchrow("SELECT status, raw, result FROM messages WHERE control_id = 'BIG-1'")
    assert row["status"] == "rejected" and row["result"]["size"] == len(big)
    assert 0 < len(row["raw"]) <= LIMIT and big.startswith(bytes(row["raw"]))
    # Only its start was kept, so a replay must not apply it as if it were whole.
    assert [r["outcome"] for r in await replay(intake_pool, receiver, status="rejected")] == ["skipped"]


async def test_an_endless_frame_closes_the_connection_without_an_ack(listener, intake_pool):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(START + adt("A04") + b"Z" * (70 * LIMIT))
    await writer.drain()
    assert await closed_without_reply(reader)
    assert await intake_pool.fetchval("SELECT count(*) FROM messages") == 0


async def test_an_empty_frame_is_answered_AR_and_the_connection_goes_on(listener, intake_pool):
    replies = await exchange(listener.port, [b"", adt("A04", control_id="AFTER-EMPTY")])
    empty = parse(replies[0])
    assert empty.first("MSA").fields[1] == "AR" and empty.first("ERR").fields[3].startswith("100^")
    assert parse(replies[1]).first("MSA").fields[1:3] == ["AA", "AFTER-EMPTY"]
    assert await intake_pool.fetchval("SELECT status FROM messages WHERE raw = ''") == "rejected"


async def test_a_message_that_fails_to_read_is_answered_and_the_connection_goes_on(listener, intake_pool):
    bad_offset = adt("A04", control_id="OFF-1").replace(b"|19810314|", b"|19800101+2400|")
    superscript = adt("A04", control_id="SUP-1", extra=("OBX|1|NM|21612-7^Age^LN||\u00b93|a",)).replace(
        b"|19810314|", b"||")
    replies = await exchange(listener.port, [bad_offset, superscript, adt("A04", control_id="OK-1")])
    assert [(parse(r).get("MSA", 1), parse(r).get("MSA", 2)) for r in replies] == [
        ("AE", "OFF-1"), ("AE", "SUP-1"), ("AA", "OK-1")]
    assert [parse(r).first("ERR").fields[2] for r in replies[:2]] == ["PID^1^7", "OBX^1^5"]
    rows = await intake_pool.fetch("SELECT control_id, status FROM messages ORDER BY control_id")
    assert [(r["control_id"], r["status"]) for r in rows] == [("OFF-1", "error"), ("OK-1", "accepted"),
                                                              ("SUP-1", "error")]


async def until(condition, timeout: float = 10.0) -> None:
    """Wait until the condition holds (a safety timeout only; nothing is asserted on time)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
async def small_listener(receiver):
    """Two connection slots, a short per-frame deadline and a long idle timeout."""
    server = MllpServer(receiver.handle_frame, host="127.0.0.1", port=0, idle_seconds=60.0, frame_seconds=0.5,
                        max_connections=2)
    await server.start()
    yield server
    await server.stop()


async def test_a_connection_over_the_cap_is_closed_at_once_and_a_freed_slot_is_served(small_listener):
    held = [await asyncio.open_connection("127.0.0.1", small_listener.port) for _ in range(2)]
    for n, (reader, writer) in enumerate(held):  # both are served, so both hold a slot
        writer.write(START + adt("A04", visit_number=f"CAP-{n}", control_id=f"CAP-{n}") + END)
        assert parse((await asyncio.wait_for(reader.readuntil(END), 10))[1:-2]).get("MSA", 1) == "AA"
    reader, writer = await asyncio.open_connection("127.0.0.1", small_listener.port)
    writer.write(START + adt("A04", control_id="OVER-1") + END)
    assert await closed_without_reply(reader)
    held[0][1].close()
    await until(lambda: len(small_listener.connections) < 2)
    [reply] = await exchange(small_listener.port, [adt("A04", visit_number="CAP-2", control_id="FREED-1")])
    assert parse(reply).first("MSA").fields[1:3] == ["AA", "FREED-1"]
    held[1][1].close()


async def test_senders_that_start_a_frame_and_stall_are_cut_off_and_the_slots_freed(small_listener, intake_pool):
    stalled = [await asyncio.open_connection("127.0.0.1", small_listener.port) for _ in range(2)]
    for _, writer in stalled:
        writer.write(START + adt("A04")[:40])
        await writer.drain()
    for reader, _ in stalled:
        assert await closed_without_reply(reader)
    await until(lambda: not small_listener.connections)
    [reply] = await exchange(small_listener.port, [adt("A04", control_id="AFTER-STALL")])
    assert parse(reply).first("MSA").fields[1:3] == ["AA", "AFTER-STALL"]
    assert await intake_pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_an_idle_connection_is_closed(listener):
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


def self_signed(tmp_path) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intake-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


async def test_the_listener_speaks_tls_when_a_certificate_is_configured(receiver, tmp_path):
    cert, key = self_signed(tmp_path)
    server = MllpServer(receiver.handle_frame, host="127.0.0.1", port=0,
                        ssl_context=server_ssl_context(cert, key))
    await server.start()
    try:
        client = ssl.create_default_context(cafile=cert)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client)
        writer.write(START + adt("A04", control_id="TLS-1") + END)
        await writer.drain()
        reply = await asyncio.wait_for(reader.readuntil(END), 10)
        assert parse(reply[1:-2]).first("MSA").fields[1:3] == ["AA", "TLS-1"]
        writer.close()
        plain_reader, plain_writer = await asyncio.open_connection("127.0.0.1", server.port)
        plain_writer.write(START + adt("A04") + END)
        await plain_writer.drain()
        assert await asyncio.wait_for(plain_reader.read(), 10) == b""
    finally:
        await server.stop()
