"""Follow-up use cases: a coded contact counts for the window it falls in; windows open, remind and close."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Sequence

import structlog

from services.contracts import FollowUpWindowClosing, FollowUpWindowOpened

from .domain.cases import CLOSING_OUTCOMES
from .domain.followup import WINDOW_CLOSE, WINDOW_OPEN, ContactRefused, check_contact, ending_reason, window_of
from .ports import Row, Work
from .service_cases import Conflict, Recorded, Refused

if TYPE_CHECKING:
    from .domain.programs import Programs

log = structlog.get_logger("pairing.followup")
# Phones run a little ahead; a contact further in the future than this is mistyped.
CLOCK_SKEW = timedelta(minutes=5)


class FollowUpUseCases:
    """Mixed into PairingService, whose close_case a contact that ends follow-up calls."""

    programs: Programs

    async def add_contact(self, uow: Work, case: Row, at, outcome: str, who: str, *, learned: Sequence[str] = (),
                          treatment_type: str | None = None, barc10: Sequence[int] | None = None) -> Recorded:
        """Record a coded contact against the window it falls in; a reached one settles that window; what was learned
        may end follow-up. The same contact again (case and time) is a repeat; another one at that time, a conflict."""
        contact = {"at": at, "outcome": outcome, "learned": list(learned), "treatment_type": treatment_type,
                   "barc10": list(barc10) if barc10 is not None else None}
        # Before the closed check: a contact that ended follow-up has closed the case since.
        known = await uow.store.contact_at(case["id"], at, outcome)
        if known is not None:
            same = (known["outcome"], sorted(known.get("learned") or []), known.get("treatment_type"),
                    list(known["barc10"]) if known.get("barc10") else None)
            if same != (outcome, sorted(contact["learned"]), treatment_type, contact["barc10"]):
                raise Conflict("another contact of this case at this time is recorded")
            return Recorded(known["id"], new=False)
        try:
            check_contact(outcome, contact["learned"], treatment_type, contact["barc10"])
        except ContactRefused as exc:
            raise Refused(str(exc)) from None
        if at > uow.clock.now() + CLOCK_SKEW:
            raise Refused("at: a contact cannot lie in the future")
        if case["status"] == "closed":
            raise Conflict("case is closed")
        window = window_of(await uow.store.touchpoints(case["id"]), at)
        touchpoint_id = window["id"] if window is not None else None
        contact_id = await uow.store.record_contact(case["id"], contact, who, touchpoint_id)
        if outcome == "reached" and touchpoint_id is not None:
            await uow.store.window_reached(touchpoint_id, at)
        reason = ending_reason(contact["learned"]) or CLOSING_OUTCOMES.get(outcome)
        if reason is not None:
            await self.close_case(uow, case, reason)
        log.info("contact_recorded", case_id=str(case["id"]), outcome=outcome, in_window=touchpoint_id is not None)
        return Recorded(contact_id)

    async def on_window_deadline(self, uow: Work, deadline: Row) -> str:
        """A window's deadline came due: remind the peer when it opens and before it closes (unless the patient was
        reached in it), and record it missed when it closes without a reached contact."""
        touchpoint = await uow.store.get_touchpoint(deadline["touchpoint_id"], lock=True)
        case = await uow.store.get_case(deadline["case_id"])
        if case["status"] == "closed" or touchpoint["outcome"] not in (None, "reached"):
            return "case-closed" if case["status"] == "closed" else (touchpoint["outcome"] or "settled")
        if deadline["kind"] == WINDOW_CLOSE:
            if await uow.store.window_missed(touchpoint["id"], uow.clock.now()):
                log.info("window_missed", case_id=str(case["id"]), touchpoint_id=touchpoint["id"])
                return "missed"
            return "reached"
        if touchpoint["outcome"] == "reached":
            return "reached"
        if case["specialist_id"] is None:
            return "no-peer"  # an unassigned case is on the supervisor's list, not a peer's
        holder = await uow.store.get_specialist(case["specialist_id"])
        if holder is None or holder["status"] != "active":
            # A peer on leave is not paged about work; the case waits for the supervisor's re-match.
            return "peer-unavailable"
        cls = FollowUpWindowOpened if deadline["kind"] == WINDOW_OPEN else FollowUpWindowClosing
        await uow.emit(cls(case_id=str(case["id"]), touchpoint_id=touchpoint["id"], facility=case["facility"],
                           visit_number=case["visit_number"], specialist_id=str(case["specialist_id"]),
                           kind=touchpoint["kind"], opens_at=touchpoint["opens_at"],
                           closes_at=touchpoint["closes_at"]))
        return "reminded"
