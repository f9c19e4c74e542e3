"""The SMS provider's webhooks: inbound texts and delivery receipts, each with its X-Twilio-Signature checked."""
from __future__ import annotations

from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime

from .channels.sms import valid_signature

router = APIRouter(tags=["sms-provider"], responses=problems(400, 403))
TWIML = "application/xml"


async def signed_form(request: Request) -> dict[str, str]:
    """The form the provider posted, when its signature is ours (403 otherwise: a forged text could accept an
    offer in a peer's name)."""
    settings = request.app.state.runtime.settings
    try:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise HTTPException(400, "body is not a form") from None
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not valid_signature(settings.sms_auth_token, url, form, request.headers.get("X-Twilio-Signature")):
        raise HTTPException(403, "bad or missing X-Twilio-Signature")
    return form


def twiml(text: str | None) -> Response:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', media_type=TWIML)


@router.post("/sms/inbound", summary="A text from a peer or supervisor (Twilio's inbound webhook); answers TwiML",
             response_class=Response, responses={200: {"content": {TWIML: {}}}, **problems(422)})
async def inbound(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                  form: dict = Depends(signed_form)) -> Response:
    if not form.get("From") or not form.get("MessageSid"):
        raise HTTPException(422, "From and MessageSid are required")
    async with runtime.unit_of_work() as uow:
        answer = await request.app.state.replies.inbound_sms(uow, form["From"], form.get("Body", ""),
                                                             form["MessageSid"])
    return twiml(answer)


@router.post("/sms/status", status_code=204, summary="A delivery receipt (Twilio's status callback)",
             response_class=Response, responses=problems(422))
async def status(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                 form: dict = Depends(signed_form)) -> Response:
    if not form.get("MessageSid") or not form.get("MessageStatus"):
        raise HTTPException(422, "MessageSid and MessageStatus are required")
    async with runtime.unit_of_work() as uow:
        await request.app.state.replies.receipt(uow, form["MessageSid"], form["MessageStatus"])
    return Response(status_code=204)
