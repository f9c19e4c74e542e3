"""HL7 orders (ORM^O01, OMG^O19) for a peer consult: which order rule a message meets, decided without I/O."""
from __future__ import annotations

from datetime import datetime

from . import ack as acks
from .adt import AdtVisit, Header, VisitError, extract
from .hl7 import Message, Segment
from .indications import indication
from .rules import OrderRule, Rules

ORDER_EVENTS = {"ORM": "O01", "OMG": "O19"}
NEW_ORDER = "NW"


def is_order(hdr: Header) -> bool:
    """ORM^O01 (v2.3-2.4) or OMG^O19 (v2.5 on): a general clinical order."""
    return ORDER_EVENTS.get(hdr.message_code) == hdr.trigger


def _groups(msg: Message) -> list[list[Segment]]:
    """The message's order groups, each from its ORC to the next (segments before the first ORC are no group)."""
    groups: list[list[Segment]] = []
    for seg in msg.segments:
        if seg.name == "ORC":
            groups.append([seg])
        elif groups:
            groups[-1].append(seg)
    return groups


def _codes(msg: Message, group: list[Segment], rule: OrderRule) -> set[str]:
    """The orderable codes the rule's fields hold in one order group: the identifier and the alternate one."""
    codes = set()
    for name, field_no in rule.fields:
        for seg in group:
            if seg.name != name or field_no >= len(seg.fields):
                continue
            for repetition in range(1, seg.fields[field_no].count(msg.encoding.repetition) + 2):
                codes.update(msg.value(seg, field_no, c, repetition).strip().upper() for c in (1, 4))
    return codes - {""}


def matching_order(msg: Message, rules: Rules) -> OrderRule | None:
    """The first enabled order rule a new order (ORC-1 NW) of the message meets."""
    for group in _groups(msg):
        if msg.value(group[0], 1).strip().upper() != NEW_ORDER:
            continue
        for rule in rules.orders:
            if _codes(msg, group, rule) & rule.codes:
                return rule
    return None


def plan_order(msg: Message, hdr: Header, rules: Rules, *, emergency_locations: frozenset[str], tz,
               now: datetime) -> acks.Outcome | tuple[AdtVisit, str]:
    """Ignore an order that is no new peer consult; AE for one that names no visit; else the visit it asks for."""
    rule = matching_order(msg, rules)
    if rule is None:
        return acks.Outcome("AA", "ignored", reason="not a new peer consult order")
    try:
        adt = extract(msg, emergency_locations=emergency_locations, tz=tz, received_at=now, hdr=hdr)
    except VisitError as exc:
        return acks.failed(exc.code, exc.location, exc.reason)
    if not adt.visit_number:
        return acks.failed("101", "PV1^1^19", "a peer consult order needs the visit number (PV1-19)")
    adt.request = indication("clinician-request", "clinician-request", rule.id, None, None, rule.reason)
    return adt, adt.visit_number
