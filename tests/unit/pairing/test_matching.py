"""Matching: every hard constraint excludes the peer it should, and the soft score orders the rest."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from services.pairing.domain.matching import choose
from services.pairing.domain.preferences import Preferences
from services.pairing.domain.programs import Programs
from services.pairing.domain.roster import Roster
from services.pairing.domain.shifts import Window
from tests.unit.pairing.builders import NOW, entry, visit

pytestmark = pytest.mark.unit
PROGRAM = Programs.load().for_facility("F1")


def pick(entries, v=None, program=PROGRAM, **kwargs):
    return choose(Roster(entries), v or visit(), program, NOW, **kwargs)


def test_a_peer_meeting_every_constraint_is_chosen_with_an_explanation():
    chosen, why = pick([entry("ok")])
    assert chosen == "ok"
    assert why["eligible"] == 1 and all(c["failed"] == 0 for c in why["constraints"].values())
    assert set(why["chosen"]["terms"]) == {"language", "gender", "age", "lived_experience", "pathway", "culture",
                                           "load", "fairness"}


EXPIRED_YESTERDAY = (NOW.date() - timedelta(days=1)).isoformat()  # a day before the injected clock


@pytest.mark.parametrize("constraint, bad", [
    ("active", entry("x", status="on-leave")),
    ("certified", entry("x", certifications=[{"kind": "CPRS", "number": "1", "expires_on": EXPIRED_YESTERDAY}])),
    ("certified", entry("x", certifications=[{"kind": "UNKNOWN", "number": "1", "expires_on": "2030-01-01"}])),
    ("time_in_recovery", entry("x", recovery_since="2025-01-01")),
    ("time_in_recovery", entry("x", recovery_since=None)),
    ("on_shift", entry("x", shifts=[])),
    ("on_shift", entry("x", shifts=[Window("F2", NOW - timedelta(hours=1), NOW + timedelta(hours=1))])),
    ("on_shift", entry("x", shifts=[Window("F1", NOW - timedelta(hours=8), NOW)])),  # ended exactly now
    ("under_caseload_cap", entry("x", load=8, caseload_cap=8)),
    ("moud_supportive", entry("x", pathways=["12-step"])),
])
def test_each_hard_constraint_excludes_the_peer_who_fails_it(constraint, bad):
    chosen, why = pick([bad])
    assert chosen is None
    assert why["constraints"][constraint]["failed"] == 1


def test_a_patient_who_speaks_another_language_than_english_gets_a_peer_who_speaks_it():
    english = entry("en-only", languages=["en"])
    assert pick([english], visit(language="es-MX"))[0] is None
    assert pick([english, entry("es", languages=["es", "en"])], visit(language="es-MX"))[0] == "es"
    assert pick([english], visit(language="en-US"))[0] == "en-only"
    assert pick([english], visit(language=None))[0] == "en-only"


def test_recused_and_already_asked_peers_are_not_offered():
    chosen, why = pick([entry("a"), entry("b")], recused=["a"])
    assert chosen == "b" and why["constraints"]["not_recused"]["failed"] == 1
    assert pick([entry("a"), entry("b")], excluded=["a", "b"])[0] is None


def test_moud_support_is_required_only_when_an_indication_is_opioid_related():
    twelve_step = entry("x", pathways=["12-step"])
    alcohol = visit(indications=[{"kind": "diagnosis", "code": "F1020", "reason": "alcohol",
                                  "category": "substance-use-disorder", "substance": "alcohol"}])
    assert pick([twelve_step], alcohol)[0] == "x"


def test_minimum_time_in_recovery_comes_from_the_program():
    three_years = entry("x", recovery_since="2023-06-01")
    assert pick([three_years])[0] == "x"
    assert pick([three_years], program=replace(PROGRAM, min_recovery_years=4))[0] is None


def test_a_telehealth_peer_on_shift_elsewhere_stands_in_only_where_the_program_allows():
    remote = entry("tele", telehealth=True, shifts=[Window("F9", NOW - timedelta(hours=1), NOW + timedelta(hours=1))])
    assert pick([remote])[0] is None
    assert pick([remote], program=replace(PROGRAM, telehealth_substitutes=True))[0] == "tele"


@pytest.mark.parametrize("term, better, worse, v", [
    ("gender", {"gender": "female"}, {"gender": "male"}, visit(gender="female")),
    ("age", {"birth_year": 1986}, {"birth_year": 1956}, visit(age_years=40)),
    ("lived_experience", {"lived_experience": ["opioids"]}, {"lived_experience": ["alcohol"]}, visit()),
    ("pathway", {"pathways": ["MOUD-supportive", "harm-reduction"]}, {"pathways": ["MOUD-supportive"]}, visit()),
    ("culture", {"ethnicity": ["2135-2"]}, {"ethnicity": ["2186-5"]}, visit(ethnicity=["2135-2"])),
    ("culture", {"race": ["2054-5"]}, {"race": ["2106-3"]}, visit(race=["2054-5"], ethnicity=["2186-5"])),
    ("language", {"languages": ["es", "en"]}, {"languages": ["en", "es"]}, visit(language="es")),
])
def test_each_score_term_prefers_the_closer_match(term, better, worse, v):
    chosen, why = pick([entry("worse", **worse), entry("better", **better)], v)
    assert chosen == "better"
    assert why["chosen"]["terms"][term]["value"] > why["runners_up"][0]["terms"][term]["value"]


def test_lighter_load_and_longer_since_the_last_page_win_between_equal_peers():
    assert pick([entry("busy", load=6), entry("free", load=1)])[0] == "free"
    recent, rested = entry("recent", last_paged_at=NOW - timedelta(minutes=5)), entry("rested", last_paged_at=None)
    assert pick([recent, rested])[0] == "rested"


def test_weights_are_configurable_and_zero_turns_a_term_off():
    same_gender_busy = entry("g", gender="female", load=7)
    other_gender_free = entry("o", gender="male", load=0)
    assert pick([same_gender_busy, other_gender_free])[0] == "g"
    no_gender = replace(PROGRAM, weights={**PROGRAM.weights, "gender": 0.0})
    chosen, why = pick([same_gender_busy, other_gender_free], program=no_gender)
    assert chosen == "o" and why["weights"]["gender"] == 0.0


def test_runners_up_are_listed_best_first():
    entries = [entry(f"p{i}", load=i) for i in range(6)]
    chosen, why = pick(entries)
    assert chosen == "p0"
    assert [r["specialist_id"] for r in why["runners_up"]] == ["p1", "p2", "p3"]
    scores = [why["chosen"]["score"]] + [r["score"] for r in why["runners_up"]]
    assert scores == sorted(scores, reverse=True)


def test_not_hispanic_or_other_race_alone_is_no_shared_background():
    _, why = pick([entry("x", race=["2131-1"], ethnicity=["2186-5"])], visit(race=["2131-1"], ethnicity=["2186-5"]))
    assert why["chosen"]["terms"]["culture"]["value"] == 0.0


def test_the_culture_term_reads_the_codes_intake_sends_detailed_or_by_category():
    # US Core sends the OMB category with the detailed code, so a peer who recorded either one matches.
    dominican = visit(ethnicity=["2135-2", "2184-0"])
    for codes in (["2135-2"], ["2184-0"]):
        _, why = pick([entry("x", ethnicity=codes)], dominican)
        assert why["chosen"]["terms"]["culture"]["value"] == 1.0


def test_the_patients_own_pathways_come_before_the_programs():
    smart, harm = entry("smart", pathways=["MOUD-supportive", "SMART"]), entry("harm", pathways=["MOUD-supportive",
                                                                                                 "harm-reduction"])
    assert pick([smart, harm])[0] == "harm"  # the program's pathways for an opioid poisoning
    chosen, why = pick([smart, harm], preferences=Preferences(pathways=("SMART",)))
    assert chosen == "smart" and why["chosen"]["terms"]["pathway"]["value"] == round(2 / 3, 4)


def test_a_patient_asking_for_a_peer_of_their_gender_gets_one_or_nobody():
    male = entry("m", gender="male")
    assert pick([male])[0] == "m"  # otherwise gender only scores
    chosen, why = pick([male], preferences=Preferences(same_gender_peer=True))
    assert chosen is None and why["constraints"]["same_gender"]["failed"] == 1
    assert pick([male, entry("f", gender="female", load=7)], preferences=Preferences(same_gender_peer=True))[0] == "f"
    # Without the patient's gender on the visit the wish cannot be checked: the constraint stays out of the way.
    assert pick([male], visit(gender="unknown"), preferences=Preferences(same_gender_peer=True))[0] == "m"


def test_the_language_the_patient_asked_for_replaces_the_one_the_ed_recorded():
    english, polish = entry("en", languages=["en"]), entry("pl", languages=["pl", "en"])
    assert pick([english, polish], visit(language="en"))[0] == "en"
    chosen, why = pick([english, polish], visit(language="en"), preferences=Preferences(language="pl-PL"))
    assert chosen == "pl" and why["constraints"]["speaks_language"]["failed"] == 1


def test_stored_preferences_are_read_back_as_recorded():
    assert Preferences.of(None) is None and Preferences.of({}) is None
    stored = {"pathways": ["SMART", "12-step"], "same_gender_peer": True, "language": "es"}
    assert Preferences.of(stored) == Preferences(("SMART", "12-step"), True, "es")
