"""Re-matching moves a departing peer's cases in one optimal batch, within caseload caps."""
from __future__ import annotations

import pytest

from services.pairing.domain.preferences import Preferences
from services.pairing.domain.programs import Programs
from services.pairing.domain.rematch import OpenCase, rematch
from services.pairing.domain.roster import Roster
from tests.unit.pairing.builders import NOW, entry, visit

pytestmark = pytest.mark.unit
PROGRAMS = Programs.load()


def test_the_batch_maximises_the_total_score_not_each_case_greedily():
    # Both peers suit the English case equally; greedy in roster order would give it the only Spanish speaker.
    roster = Roster([entry("leaving"), entry("es", languages=["en", "es"], caseload_cap=1),
                     entry("en", languages=["en"], caseload_cap=1)])
    cases = [OpenCase("c-en", visit(language="en"), "leaving"), OpenCase("c-es", visit(language="es"), "leaving")]
    moved = {t.case_id: t.specialist_id for t in rematch(roster, cases, PROGRAMS.for_facility, NOW)}
    assert moved == {"c-en": "en", "c-es": "es"}


def test_caps_recusals_and_the_leaving_peer_are_respected():
    roster = Roster([entry("leaving"), entry("room-for-one", caseload_cap=2, load=1), entry("recused")])
    cases = [OpenCase("c1", visit(), "leaving", recused=("recused",)),
             OpenCase("c2", visit(), "leaving", recused=("recused",))]
    result = rematch(roster, cases, PROGRAMS.for_facility, NOW)
    assert sorted(str(t.specialist_id) for t in result) == ["None", "room-for-one"]


def test_follow_up_cases_need_no_shift_but_a_peer_serving_the_facility():
    roster = Roster([entry("leaving"), entry("off-shift", shifts=[]), entry("elsewhere", facility="F2", shifts=[])])
    [transfer] = rematch(roster, [OpenCase("c1", visit(), "leaving")], PROGRAMS.for_facility, NOW)
    assert transfer.specialist_id == "off-shift"
    assert transfer.explanation["from_specialist_id"] == "leaving"


def test_re_matching_honours_what_the_patient_told_their_first_peer():
    roster = Roster([entry("leaving"), entry("en", languages=["en"]), entry("pl", languages=["pl", "en"], load=3),
                     entry("man", gender="male", languages=["pl"])])
    plain = OpenCase("c1", visit(language="en"), "leaving")
    assert rematch(roster, [plain], PROGRAMS.for_facility, NOW)[0].specialist_id == "en"
    asked = OpenCase("c1", visit(language="en"), "leaving",
                     preferences=Preferences(language="pl", same_gender_peer=True))
    [transfer] = rematch(roster, [asked], PROGRAMS.for_facility, NOW)
    assert transfer.specialist_id == "pl" and transfer.explanation["eligible"] == 1
