"""HL7 acknowledgements: original mode (AA/AE/AR) and enhanced mode (CA/CE/CR), with ERR segments."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .adt import Header

_ENHANCED = {"AA": "CA", "AE": "CE", "AR": "CR"}
ERROR_TEXT = {"100": "Segment sequence error", "101": "Required field missing", "102": "Data type error",
              "200": "Unsupported message type", "201": "Unsupported event code", "202": "Unsupported processing id",
              "203": "Unsupported version id", "205": "Duplicate key identifier",
              "207": "Application internal error"}


@dataclass(frozen=True)
class Outcome:
    """How a message ended: the original-mode ACK code, the stored status, and why (no patient data)."""

    code: str
    status: str
    error_code: str | None = None
    location: str | None = None
    reason: str | None = None
    control_id_reused: bool = False   # stored as new although its sender's control id was taken by another message

    def detail(self) -> dict | None:
        if not self.error_code:
            return None
        return {"code": self.error_code, "location": self.location, "reason": self.reason}


ACCEPTED = Outcome("AA", "accepted")
IGNORED = Outcome("AA", "ignored")


def rejected(code: str, location: str, reason: str) -> Outcome:
    return Outcome("AR", "rejected", code, location, reason)


def failed(code: str, location: str, reason: str) -> Outcome:
    return Outcome("AE", "error", code, location, reason)


def _escape(text: str) -> str:
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    return out.replace("&", "\\T\\").replace("~", "\\R\\").replace("\r", " ").replace("\n", " ")


def wants_ack(hdr: Header | None, code: str) -> bool:
    """Whether the sender asked for this ACK: always in original mode; per MSH-15 in enhanced mode."""
    if hdr is None or not (hdr.accept_ack or hdr.app_ack):
        return True
    condition = hdr.accept_ack or "AL"
    return {"NE": False, "ER": code != "AA", "SU": code == "AA"}.get(condition, True)


def ack_code(hdr: Header | None, code: str) -> str:
    """AA/AE/AR, or CA/CE/CR when MSH-15/MSH-16 put the sender in enhanced mode."""
    if hdr is not None and (hdr.accept_ack or hdr.app_ack):
        return _ENHANCED[code]
    return code


def build_ack(hdr: Header | None, outcome: Outcome, *, control_id: str, now: datetime,
              app: str = "PEERBRIDGE", facility: str = "PEERBRIDGE") -> str:
    """An ACK addressed back to the sender; MSA-2 echoes MSH-10; segments ended by CR."""
    h = hdr
    version = (h.version if h and h.version else "2.5.1")
    trigger = _escape(h.trigger) if h else ""
    msg_type = f"ACK^{trigger}^ACK" if version >= "2.4" else f"ACK^{trigger}"
    fields = ["MSH", "^~\\&", app, facility, _escape(h.sending_app if h else ""),
              _escape(h.sending_facility if h else ""), now.strftime("%Y%m%d%H%M%S%z"), "", msg_type,
              control_id, h.processing_id if h and h.processing_id in ("P", "T", "D") else "P", _escape(version)]
    if h and h.charset:
        fields += ["", "", "", "", "", _escape(h.charset)]
    segments = ["|".join(fields),
                "|".join(["MSA", ack_code(h, outcome.code), _escape(h.control_id[:199] if h else "")])]
    if outcome.error_code:
        text = ERROR_TEXT.get(outcome.error_code, "Error")
        location = outcome.location or ""
        parts = (location.split("^") + ["", "", ""])[:3]
        # ERR-1 (ELD, v2.3/2.4) and ERR-2/3/4/8 (v2.5+) both filled, so every version finds the error.
        eld = "^".join(parts + [f"{outcome.error_code}&{text}&HL70357"])
        segments.append("|".join(["ERR", eld, location, f"{outcome.error_code}^{text}^HL70357", "E",
                                  "", "", "", _escape(outcome.reason or text)]))
    return "\r".join(segments) + "\r"


def build_batch_ack(acks: list[str], now: datetime, control_id: str) -> str:
    """A batch of ACKs for an FHS/BHS batch (a batch with no ACK in it still answers the frame)."""
    stamp = now.strftime("%Y%m%d%H%M%S%z")
    body = "".join(acks)
    return (f"FHS|^~\\&|PEERBRIDGE|PEERBRIDGE|||{stamp}||||{control_id}\r"
            f"BHS|^~\\&|PEERBRIDGE|PEERBRIDGE|||{stamp}||||{control_id}\r"
            f"{body}BTS|{len(acks)}\rFTS|1\r")
