"""The supervisor's board actions: re-match one case with a reason, give a case to a peer by hand (checked against
the hard constraints; an override needs its reason), acknowledge an escalation."""
from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from services.contracts import Visit, parse

from . import store_board
from .domain.matching import choose, evaluate
from .domain.preferences import Preferences
from .service import Conflict, Offer, PairingService, Refused
from .unit_of_work import PairingUnitOfWork

log = structlog.get_logger("pairing.board")
OPEN_OFFER = ("offered",)
HELD = ("accepted", "completed")


@dataclass
class Moved:
    """What a re-match or a hand assignment did (`new` False: a repeat that changed nothing)."""

    case_id: str
    status: str
    assignment_id: str | None = None
    specialist_id: str | None = None
    overridden: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    new: bool = True


def _shift_needed(case) -> bool:
    """A case still in the ED is offered to a peer on shift; one in follow-up to a peer who serves the facility."""
    return case["status"] in ("paging", "escalated")


class BoardUseCases:
    """The supervisor's actions, over pairing's dispatch rules (PairingService)."""

    def __init__(self, service: PairingService):
        self.service = service

    async def candidates(self, uow: PairingUnitOfWork, case) -> list[dict]:
        """Every active peer with the hard constraints they fail for this case and their score, best first."""
        now = uow.clock.now()
        roster = await self.service.roster(uow, now)
        program = self.service.programs.for_facility(case["facility"])
        tried = {str(a["specialist_id"]) for a in await uow.store.assignments_of_case(case["id"])}
        evaluation = evaluate(roster, parse(Visit, case["visit"]), program, now, require_shift=_shift_needed(case),
                              recused=await uow.store.recused_for(case["patient_hash"]),
                              preferences=Preferences.of(case["preferences"]))
        out = [{"specialist_id": sid, "eligible": bool(evaluation.eligible[i]),
                "failed": [name for name, mask in evaluation.constraints.items() if not mask[i]],
                "score": round(float(evaluation.score[i]), 4), "asked_before": sid in tried}
               for i, sid in enumerate(roster.ids)]
        return sorted(out, key=lambda c: (not c["eligible"], -c["score"], c["specialist_id"]))

    async def rematch(self, uow: PairingUnitOfWork, case, reason: str, actor: str,
                      from_assignment: str | None) -> Moved:
        """Take the case from its peer (offer or accepted) and give it to the best other eligible peer: an offer
        while the patient is in the ED, a hand-over (accepted, with a transfer note) in follow-up; escalated when
        nobody is eligible, with how many peers each constraint excluded."""
        if from_assignment:
            done = await store_board.rematch_from(uow.conn, case["id"], from_assignment)
            if done is not None:
                return Moved(str(case["id"]), "repeat", _str(done["assignment_id"]), _str(done["specialist_id"]),
                             new=False)
        if case["status"] == "closed":
            raise Conflict("case is closed")
        now = uow.clock.now()
        rows = await uow.store.assignments_of_case(case["id"])
        current = next((r for r in reversed(rows) if r["status"] in OPEN_OFFER + HELD), None)
        if from_assignment and (current is None or str(current["id"]) != from_assignment):
            raise Conflict("the case has moved on since: reload the board")
        in_ed = not (current is not None and current["status"] in HELD and current["arrived_at"] is not None) \
            and case["status"] != "follow-up"
        if current is not None:
            await self.service._withdraw(uow, current, "re-matched", now)
        program = self.service.programs.for_facility(case["facility"])
        chosen, explanation = choose(await self.service.roster(uow, now, with_shifts=in_ed),
                                     parse(Visit, case["visit"]), program, now, require_shift=in_ed,
                                     recused=await uow.store.recused_for(case["patient_hash"]),
                                     excluded=[str(r["specialist_id"]) for r in rows],
                                     preferences=Preferences.of(case["preferences"]))
        excluded = {name: c["failed"] for name, c in explanation["constraints"].items() if c["failed"]}
        explanation = {**explanation, "rematch_reason": reason, "rematched_by": "supervisor"}
        moved = Moved(str(case["id"]), "escalated", excluded=excluded)
        if chosen is None:
            await uow.store.set_case(case["id"], specialist_id=None)
            await self.service.escalate(uow, case, "rematch", "no eligible peer for the re-match")
            await uow.store.set_case(case["id"], status="escalated")
        elif in_ed:
            moved.assignment_id = await self._offer(uow, case, chosen, len(rows) + 1, explanation)
            moved.status, moved.specialist_id = "offered", chosen
        else:
            moved.assignment_id = await self.service.hand_over(uow, case, chosen, explanation,
                                                               "Re-matched by your supervisor. Read the case's"
                                                               " plan and contacts before reaching out.")
            moved.status, moved.specialist_id = "accepted", chosen
        await store_board.record_action(uow.conn, case["id"], "rematch", actor, now, reason=reason,
                                        from_assignment=current["id"] if current is not None else None,
                                        assignment_id=moved.assignment_id, specialist_id=moved.specialist_id)
        log.info("rematched", case_id=str(case["id"]), outcome=moved.status)
        return moved

    async def _offer(self, uow: PairingUnitOfWork, case, chosen: str, attempt: int, explanation: dict) -> str:
        """An offer with its deadline, as dispatch makes one (the escalation steps do not limit a supervisor)."""
        now = uow.clock.now()
        timeout = self.service.programs.for_facility(case["facility"]).ack_timeout
        offer = Offer(case, chosen, attempt, now, now + timeout, explanation)
        [assignment_id] = await self.service.write_offers([(uow, offer)])
        await uow.store.set_case(case["id"], status="paging", specialist_id=None)
        return assignment_id

    async def assign(self, uow: PairingUnitOfWork, case, specialist_id: str, override_reason: str | None,
                     actor: str) -> Moved:
        """Give the case to this peer as an accepted assignment; a peer failing a hard constraint only with the
        supervisor's reason, kept with the names of the constraints overridden."""
        held = await self.service.held_by(uow, case, specialist_id)
        if held is not None:
            return Moved(str(case["id"]), "accepted", held, specialist_id, new=False)
        if case["status"] == "closed":
            raise Conflict("case is closed")
        specialist = await uow.store.get_specialist(specialist_id)
        if specialist is None or specialist["status"] != "active":
            raise Refused("specialist_id: no active specialist with this id")
        found = next((c for c in await self.candidates(uow, case) if c["specialist_id"] == specialist_id), None)
        failed = found["failed"] if found else ["active"]
        if failed and not override_reason:
            raise Refused(f"override_reason: the peer fails {', '.join(failed)}; give a reason to assign anyway")
        now = uow.clock.now()
        for row in await uow.store.assignments_of_case(case["id"]):
            if row["status"] in OPEN_OFFER + ("accepted",):
                await self.service._withdraw(uow, row, "re-matched", now)
        explanation = {"assigned_by": "supervisor", "from_status": case["status"], "overridden": failed,
                       "override_reason": override_reason if failed else None}
        assignment_id = await self.service.hand_over(uow, case, specialist_id, explanation, None)
        await store_board.record_action(uow.conn, case["id"], "assign", actor, now, assignment_id=assignment_id,
                                        specialist_id=specialist_id, reason=override_reason if failed else None,
                                        overridden=failed)
        return Moved(str(case["id"]), "accepted", assignment_id, specialist_id, overridden=failed)

    async def acknowledge(self, uow: PairingUnitOfWork, case, actor: str) -> dict:
        """The supervisor has seen the escalation (once per escalation); Conflict when the case is not escalated."""
        escalation = await store_board.latest_escalation(uow.conn, case["id"])
        if escalation is None:
            raise Conflict("case has no escalation")
        known = await store_board.acknowledgement(uow.conn, case["id"], escalation["kind"])
        if known is not None:
            return {"case_id": str(case["id"]), "acknowledged_by": known["actor"],
                    "acknowledged_at": known["at"].isoformat(), "new": False}
        if case["status"] != "escalated":
            raise Conflict(f"case is {case['status']}")
        now = uow.clock.now()
        await store_board.record_action(uow.conn, case["id"], "acknowledge", actor, now,
                                        escalation_kind=escalation["kind"])
        return {"case_id": str(case["id"]), "acknowledged_by": actor, "acknowledged_at": now.isoformat(), "new": True}


def _str(value) -> str | None:
    return str(value) if value is not None else None
