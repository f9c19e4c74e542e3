"""Care rules (issue 14), pure: the payer's credential rule on the date of service, re-matching one case and why
nobody is eligible, renewal thresholds, supervision against the requirement, crisis routes and their settings."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.pairing.domain.credentials import payer_credentialed, payer_rule, renewals
from services.pairing.domain.crisis import UnknownRoute, route_for
from services.pairing.domain.programs import ProgramError, Programs
from services.pairing.domain.rematch import OpenCase, rematch
from services.pairing.domain.rematch_case import Ask, NoEligiblePeer, choose_for_case
from services.pairing.domain.roster import Roster
from services.pairing.domain.supervision import requirement, standing
from tests.unit.pairing.builders import CERTIFIED_UNTIL, NOW, entry, visit

pytestmark = pytest.mark.unit
PROGRAMS = Programs.load()
NJ = {"plan_id": "NJMCD", "member_id": "M1"}
TODAY = NOW.date()


def cert(kind: str, state: str | None, expires_on: str = CERTIFIED_UNTIL) -> list[dict]:
    return [{"kind": kind, "number": "N1", "state": state, "expires_on": expires_on}]


def test_the_payer_rule_is_the_version_in_effect_on_the_date_of_service():
    later = (TODAY + timedelta(days=10)).isoformat()
    programs = Programs.from_mapping({"defaults": {"payer_credentials": {"P1": [
        {"effective_from": "2020-01-01", "kinds": ["CPRS"], "state": "NJ"},
        {"effective_from": later, "kinds": ["PRS"], "state": None}]}}})
    program = programs.for_facility("F1")
    assert payer_rule(program, "P1", TODAY).kinds == ("CPRS",)
    assert payer_rule(program, "P1", TODAY + timedelta(days=10)).kinds == ("PRS",)
    assert payer_rule(program, "UNKNOWN", TODAY) is None and payer_rule(program, None, TODAY) is None


def test_the_default_program_mirrors_billings_rendering_credentials():
    program = PROGRAMS.for_facility("F1")
    assert payer_rule(program, "NJMCD", TODAY).kinds == ("CPRS", "CPRC", "CPRA", "PRS")
    assert payer_rule(program, "TXMCD", TODAY).state == "TX" and payer_rule(program, "GAMCD", TODAY).state == "GA"


def test_a_credential_counts_only_of_an_accepted_kind_from_the_payers_state_valid_on_the_day():
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    roster = Roster([entry("nj", certifications=cert("CPRS", "NJ")), entry("tx", certifications=cert("CPRS", "TX")),
                     entry("lapsed", certifications=cert("CPRS", "NJ", yesterday)),
                     entry("other-kind", certifications=cert("CARES", "NJ"))])
    rule = payer_rule(PROGRAMS.for_facility("F1"), "NJMCD", TODAY)
    assert payer_credentialed(roster, rule, TODAY).tolist() == [True, False, False, False]
    assert payer_credentialed(roster, None, TODAY).all()


def test_re_matching_one_case_prefers_no_better_scored_peer_the_payer_rejects():
    roster = Roster([entry("holder"), entry("tx", certifications=cert("CPRS", "TX")),
                     entry("nj", certifications=cert("CPRS", "NJ"), lived_experience=["alcohol"])])
    chosen, why = choose_for_case(roster, visit(payer=NJ), PROGRAMS.for_facility("F1"), NOW, leaving="holder")
    assert chosen == "nj"
    assert why["constraints"]["payer_credential"]["failed"] == 1 and why["eligible"] == 1
    # Without a payer, the better match wins.
    assert choose_for_case(roster, visit(), PROGRAMS.for_facility("F1"), NOW, leaving="holder")[0] == "tx"


def test_re_matching_one_case_honours_the_gender_and_pathway_asked_for_and_never_the_leaving_peer():
    roster = Roster([entry("holder", gender="male"), entry("w", gender="female"),
                     entry("m", gender="male", pathways=["MOUD-supportive", "SMART"]),
                     entry("m2", gender="male", pathways=["MOUD-supportive"])])
    program = PROGRAMS.for_facility("F1")
    assert choose_for_case(roster, visit(), program, NOW, leaving="holder", ask=Ask(peer_gender="male"))[0] in (
        "m", "m2")
    assert choose_for_case(roster, visit(), program, NOW, leaving="holder",
                           ask=Ask(peer_gender="male", pathway="SMART"))[0] == "m"


def test_when_nobody_is_eligible_the_explanation_counts_what_each_constraint_excluded():
    recent = (TODAY - timedelta(days=300)).isoformat()  # under the program's two years in recovery
    roster = Roster([entry("holder"), entry("tx", certifications=cert("CPRS", "TX")),
                     entry("new", recovery_since=recent), entry("full", caseload_cap=1, load=1)])
    with pytest.raises(NoEligiblePeer) as caught:
        choose_for_case(roster, visit(payer=NJ), PROGRAMS.for_facility("F1"), NOW, leaving="holder")
    why = caught.value.explanation
    failed = {name: c["failed"] for name, c in why["constraints"].items() if c["failed"]}
    assert failed == {"not_recused": 1, "payer_credential": 1, "time_in_recovery": 1, "under_caseload_cap": 1}
    assert (why["considered"], why["eligible"]) == (4, 0)


def test_the_batch_re_match_also_keeps_cases_from_peers_the_payer_rejects():
    roster = Roster([entry("leaving"), entry("tx", certifications=cert("CPRS", "TX"))])
    [transfer] = rematch(roster, [OpenCase("c1", visit(payer=NJ), "leaving")], PROGRAMS.for_facility, NOW)
    assert transfer.specialist_id is None
    [transfer] = rematch(roster, [OpenCase("c1", visit(), "leaving")], PROGRAMS.for_facility, NOW)
    assert transfer.specialist_id == "tx"


def test_renewals_warn_at_60_and_30_days_for_certifications_and_continuing_education():
    def on(days: int) -> str:
        return (TODAY + timedelta(days=days)).isoformat()
    people = [("a", {"certifications": [{"kind": "CPRS", "expires_on": on(61)}, {"kind": "PRS", "expires_on": on(60)},
                                        {"kind": "CPS", "expires_on": on(30), "ce_due_on": on(90)}]}),
              ("b", {"certifications": [{"kind": "CPRS", "expires_on": on(-3), "ce_due_on": on(12)}]})]
    found = [(r.specialist_id, r.credential, r.kind, r.days_left, r.threshold_days)
             for r in renewals(people, TODAY, (60, 30))]
    assert found == [("b", "certification", "CPRS", -3, 30), ("b", "continuing-education", "CPRS", 12, 30),
                     ("a", "certification", "CPS", 30, 30), ("a", "certification", "PRS", 60, 60)]


def test_supervision_counts_the_period_ending_today_and_the_strictest_program_applies():
    sessions = [{"held_on": TODAY, "minutes": 60, "format": "individual"},
                {"held_on": TODAY - timedelta(days=29), "minutes": 30, "format": "group"},
                {"held_on": TODAY - timedelta(days=30), "minutes": 600, "format": "group"}]
    s = standing(sessions, TODAY, 2, 30)
    assert (s.held_hours, s.individual_hours, s.group_hours, s.meets) == (1.5, 1.0, 0.5, False)
    assert s.period_from == TODAY - timedelta(days=29)
    programs = Programs.from_mapping({"defaults": {}, "facilities": {
        "A": {"supervision_hours": 2, "supervision_period_days": 30},
        "B": {"supervision_hours": 1, "supervision_period_days": 7}}})
    assert requirement([programs.for_facility("A"), programs.for_facility("B")]) == (1, 7)


def test_a_crisis_goes_to_the_facilitys_first_route_unless_the_peer_picks_another_it_configures():
    ri = PROGRAMS.for_facility("RIMEM")
    assert (route_for(ri).route, route_for(ri).contact) == ("on-call-clinician", "ri-ed-clinician")
    assert route_for(ri, "988").contact is None
    assert route_for(PROGRAMS.for_facility("ANY")).route == "988"
    with pytest.raises(UnknownRoute):
        route_for(PROGRAMS.for_facility("ANY"), "mobile-crisis")


@pytest.mark.parametrize("raw", [{"crisis_routes": []}, {"crisis_routes": [{"route": "pager"}]},
                                 {"crisis_routes": [{"route": "988", "phone": "x"}]},
                                 {"payer_credentials": {"P": [{"kinds": []}]}}, {"payer_credentials": ["P"]}])
def test_invalid_care_settings_refuse_to_start_naming_the_place(raw):
    with pytest.raises(ProgramError, match="defaults"):
        Programs.from_mapping({"defaults": raw})


def test_dates_in_the_payer_rules_are_read_from_yaml_dates_or_text():
    program = Programs.from_mapping({"defaults": {"payer_credentials": {"P": [
        {"effective_from": date(2025, 1, 1), "kinds": ["CPRS"]}]}}}).for_facility("X")
    assert payer_rule(program, "P", TODAY).state is None
