"""Request bodies and responses of notify's HTTP API."""
from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.web import AwareInstant

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelIn(Strict):
    """One way to reach a person: an E.164 number, an email address, a Web Push subscription (JSON) or an HTTPS
    paging webhook URL."""

    channel: Literal["sms", "email", "push", "webhook"]
    address: str = Field(..., min_length=3, max_length=2000)

    @model_validator(mode="after")
    def _address_fits_channel(self) -> "ChannelIn":
        ok = {"sms": lambda a: bool(E164.match(a)), "email": lambda a: bool(EMAIL.match(a)),
              "webhook": lambda a: a.startswith(("https://", "http://")), "push": _subscription}[self.channel]
        if not ok(self.address):
            raise ValueError(f"address is not a valid {self.channel} address")
        return self


def _subscription(address: str) -> bool:
    try:
        sub = json.loads(address)
        return isinstance(sub, dict) and str(sub.get("endpoint", "")).startswith(("https://", "http://"))
    except ValueError:
        return False


class ContactsIn(Strict):
    channels: list[ChannelIn] = Field(..., max_length=10, description="In order of preference, most preferred first")


class ContactRead(BaseModel):
    channel: str
    address: str
    rank: int
    verified: bool


class VerificationIn(Strict):
    channel: Literal["sms", "email"]
    address: str = Field(..., min_length=3, max_length=320)


class CodeIn(VerificationIn):
    code: str = Field(..., pattern=r"^[0-9]{6}$")


class Accepted(BaseModel):
    status: str


class OnCallIn(Strict):
    supervisor_id: str = Field(..., min_length=1, max_length=128)
    starts_at: AwareInstant
    ends_at: AwareInstant

    @model_validator(mode="after")
    def _ordered(self) -> "OnCallIn":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class OnCallRead(BaseModel):
    facility: str
    on_call_now: str | None
    rota: list[dict]


class MessageRead(BaseModel):
    """A message's fate: never its text or address, only who, how and what happened."""

    id: str
    kind: str
    recipient_kind: str
    recipient_id: str
    channel: str
    status: str
    attempts: int
    facility: str | None
    visit_number: str | None
    assignment_id: str | None
    alert_id: str | None
    error_class: str | None
    created_at: str
    sent_at: str | None
    delivered_at: str | None
    replied_at: str | None


class AlertRead(BaseModel):
    id: str
    facility: str
    visit_number: str
    supervisor_id: str | None
    raised_at: str
    repeats: int
    acked_at: str | None
    acked_via: str | None
