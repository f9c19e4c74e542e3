"""The default program's triggers, rule by rule: which ICD-10-CM codes call a peer, which mark a crisis, and rules
switched off or written wrong."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.intake.domain.indications import RulesError, assess, load_rules, parse_rules
from services.intake.domain.rules import intent_of
from services.intake.rules_check import main as rules_command
from services.intake.settings import RULES_DIR

pytestmark = pytest.mark.unit
DEFAULT = RULES_DIR / "default.yaml"
RULES = load_rules(DEFAULT)


def rule_of(code: str) -> str | None:
    """The rule a single diagnosis meets under the default file (None: no peer)."""
    found = assess(RULES, [code], []).indications
    return found[0].rule if found else None


@pytest.mark.parametrize("code, rule", [
    # CDC's opioids: T40.0-T40.4 and T40.6, every intent 1-4, initial encounter.
    ("T40.0X1A", "poisoning-opioids"), ("T40.1X1A", "poisoning-opioids"), ("T40.2X3A", "poisoning-opioids"),
    ("T40.3X4A", "poisoning-opioids"), ("T40.4X1A", "poisoning-opioids"), ("T40.411A", "poisoning-opioids"),
    ("T40.421A", "poisoning-opioids"), ("T40.491A", "poisoning-opioids"), ("T40.601A", "poisoning-opioids"),
    ("T40.694A", "poisoning-opioids"),
    # The rest of T40, T42.4, T43.6x and T51: on by default, each its own rule.
    ("T40.5X1A", "poisoning-cocaine"), ("T40.7X1A", "poisoning-cannabis"), ("T40.711A", "poisoning-cannabis"),
    ("T40.721A", "poisoning-cannabis"), ("T40.8X1A", "poisoning-hallucinogens"),
    ("T40.901A", "poisoning-hallucinogens"), ("T42.4X1A", "poisoning-benzodiazepines"),
    ("T42.4X4A", "poisoning-benzodiazepines"), ("T43.601A", "poisoning-psychostimulants"),
    ("T43.621A", "poisoning-psychostimulants"), ("T43.641A", "poisoning-psychostimulants"),
    ("T43.651A", "poisoning-psychostimulants"), ("T51.0X1A", "toxic-effect-alcohol"),
    ("T51.1X3A", "toxic-effect-alcohol"), ("T51.91XA", "toxic-effect-alcohol"),
    # Intent 2 (intentional self-harm) is an overdose too: it calls a peer by its drug's rule (and is a crisis).
    ("T40.2X2A", "poisoning-opioids"), ("T42.4X2A", "poisoning-benzodiazepines"),
    # Use disorders by substance, F10-F19 except F17.
    ("F10.20", "sud-alcohol"), ("F10.239", "sud-alcohol"), ("F11.20", "sud-opioids"), ("F12.10", "sud-cannabis"),
    ("F13.20", "sud-sedatives"), ("F14.20", "sud-stimulants"), ("F15.10", "sud-stimulants"),
    ("F16.20", "sud-hallucinogens"), ("F18.10", "sud-inhalants"), ("F19.20", "sud-polysubstance"),
])
def test_each_code_calls_a_peer_by_its_rule(code, rule):
    assert rule_of(code) == rule


@pytest.mark.parametrize("code", [
    # Subsequent encounter and sequela (7th character D, S): follow-up care, not an overdose in the ED now.
    "T40.1X1D", "T40.1X1S", "T40.5X1D", "T42.4X1S", "T43.621D", "T51.0X1D",
    # Adverse effect (5) and underdosing (6): the drug taken as prescribed, or too little of it.
    "T40.2X5A", "T40.2X6A", "T42.4X5A", "T43.625A", "T40.605A",
    # A code without its 7th character says nothing about the encounter.
    "T40.1X1",
    # Tobacco: F17 is not a use disorder a recovery peer is called for.
    "F17.210", "F17.200", "F17.290",
    # T36-T50 groups present but off in the default file.
    "T39.1X1A", "T36.0X1A", "T42.0X1A", "T43.011A", "T43.591A", "T50.901A", "T45.0X1A",
    # Nothing to do with substances.
    "S52.501A", "R07.9", "T14.90XA", "T52.0X1A",
])
def test_codes_that_call_no_peer(code):
    assert rule_of(code) is None


@pytest.mark.parametrize("code, intent", [("T401X1A", "1"), ("T402X2A", "2"), ("T40411A", "1"), ("T40603A", "3"),
                                          ("T3691XA", "1"), ("T5194XA", "4"), ("T1491XA", "1"), ("T40", None)])
def test_the_intent_is_the_sixth_character_or_the_fifth_before_a_placeholder(code, intent):
    assert intent_of(code) == intent


@pytest.mark.parametrize("diagnoses, crisis_rules", [
    (["T40.2X2A"], ["crisis-self-harm-poisoning"]), (["T36.0X2A"], ["crisis-self-harm-poisoning"]),
    (["T39.012A"], ["crisis-self-harm-poisoning"]), (["T50.902A"], ["crisis-self-harm-poisoning"]),
    (["T36.92XA"], ["crisis-self-harm-poisoning"]),
    (["T14.91XA"], ["crisis-suicide-attempt"]), (["R45.851"], ["crisis-suicidal-ideation"]),
    (["T40.2X2A", "R45.851"], ["crisis-self-harm-poisoning", "crisis-suicidal-ideation"]),
    # Other intents, later encounters, and self-harm outside T36-T50 are no crisis by these rules.
    (["T40.2X1A"], []), (["T40.2X3A"], []), (["T40.2X4A"], []), (["T40.2X2D"], []), (["T14.91XD"], []),
    (["F11.20"], []), (["R45.85"], []),
])
def test_intentional_self_harm_and_suicidality_mark_a_crisis(diagnoses, crisis_rules):
    found = assess(RULES, diagnoses, [])
    assert found.crisis_rules == crisis_rules
    if crisis_rules:
        assert found.indications, "a crisis visit always needs a peer"


def test_a_crisis_code_no_other_rule_takes_is_an_indication_of_its_crisis_rule():
    [only] = assess(RULES, ["T39.012A"], []).indications
    assert (only.kind, only.code, only.rule, only.category) == ("diagnosis", "T39012A", "crisis-self-harm-poisoning",
                                                                 "crisis")
    [opioid] = assess(RULES, ["T40.2X2A"], []).indications
    assert opioid.rule == "poisoning-opioids"  # one indication per code: the drug's rule, the crisis rule beside it


@pytest.mark.parametrize("text, crisis", [
    ("suicidal, took pills", True), ("SUICIDE ATTEMPT", True), ("says wants to kill myself", True),
    ("self-harm, cut wrist", True), ("intentional overdose", True),
    ("denies suicidal ideation", False), ("not suicidal", False), ("pt denied SI, no self harm", False),
    ("fall from ladder", False), ("suicidality screen", False),
    ("found down, no pulse at first, suicidal note", True), ("no insurance; suicidal", True),
])
def test_crisis_phrases_in_the_complaint_mark_a_crisis_unless_just_negated(text, crisis):
    found = assess(RULES, [], [text])
    assert found.crisis_rules == (["crisis-keyword"] if crisis else [])


def test_a_crisis_phrase_leaves_no_trace_of_the_words_in_the_indication():
    found = assess(RULES, [], ["wants to kill myself"])
    [ind] = found.indications
    assert (ind.kind, ind.code, ind.rule) == ("keyword", "crisis-keyword", "crisis-keyword")
    assert "kill" not in ind.model_dump_json()


def program(tweak) -> dict:
    """The default rule file as data, changed by tweak(doc)."""
    doc = yaml.safe_load(DEFAULT.read_text())
    tweak(doc)
    return doc


def switch(doc: dict, rule_id: str, enabled: bool) -> None:
    groups = [doc["diagnoses"], doc["keywords"], doc["orders"], doc["service_requests"], doc["crisis"]["diagnoses"],
              doc["crisis"]["keywords"]]
    [rule] = [r for group in groups for r in group if r["id"] == rule_id]
    rule["enabled"] = enabled


@pytest.mark.parametrize("rule_id, code, before, after", [
    ("poisoning-cannabis", "T40.7X1A", "poisoning-cannabis", None),
    ("poisoning-cocaine", "T40.5X1A", "poisoning-cocaine", None),
    ("sud-alcohol", "F10.20", "sud-alcohol", None),
    ("toxic-effect-alcohol", "T51.0X1A", "toxic-effect-alcohol", None),
    ("poisoning-nonopioid-analgesics", "T39.1X1A", None, "poisoning-nonopioid-analgesics"),
    ("poisoning-other-drugs", "T50.901A", None, "poisoning-other-drugs"),
])
def test_a_program_switches_single_rules_on_and_off(rule_id, code, before, after):
    assert rule_of(code) == before
    rules = parse_rules(program(lambda doc: switch(doc, rule_id, after is not None)), "program.yaml")
    found = assess(rules, [code], []).indications
    assert (found[0].rule if found else None) == after
    assert assess(rules, ["T40.1X1A"], []).indications[0].rule == "poisoning-opioids"  # the others stay as they were


def test_a_program_can_switch_the_crisis_path_rules_off():
    rules = parse_rules(program(lambda doc: switch(doc, "crisis-suicidal-ideation", False)), "program.yaml")
    found = assess(rules, ["R45.851"], [])
    assert found.crisis_rules == [] and found.indications == []
    assert assess(rules, ["T14.91XA"], []).crisis_rules == ["crisis-suicide-attempt"]


def test_the_old_pattern_form_still_works():
    rules = parse_rules({"program": "old", "diagnoses": [{"id": "opioid-poisoning", "category": "opioid-poisoning",
                                                         "substance": "opioids", "pattern": "^T40[0-46][0-9X]{2}A$",
                                                         "reason": "opioid poisoning"}]}, "old.yaml")
    assert [i.rule for i in assess(rules, ["T40.1X1A", "T40.5X1A"], []).indications] == ["opioid-poisoning"]
    assert rules.program == "old"


@pytest.mark.parametrize("tweak, says", [
    (lambda d: d["diagnoses"][0].update(enabled="sometimes"), "diagnoses[0] (poisoning-opioids).enabled"),
    (lambda d: d["diagnoses"][1].update(intents=[7]), "diagnoses[1] (poisoning-cocaine).intents"),
    (lambda d: d["diagnoses"][1].update(encounters=["B"]), "diagnoses[1] (poisoning-cocaine).encounters"),
    (lambda d: d["diagnoses"][2].update(codes=["40.7"]), "not ICD-10-CM code prefixes: 407"),
    (lambda d: d["diagnoses"][2].pop("codes"), "needs codes or a pattern"),
    (lambda d: d["diagnoses"][2].update(pattern="^T40("), "not a regular expression"),
    (lambda d: d["diagnoses"][3].update(enable=False), "diagnoses[3] (poisoning-hallucinogens).enable: Extra"),
    (lambda d: d["diagnoses"][3].pop("reason"), "diagnoses[3] (poisoning-hallucinogens).reason: Field required"),
    (lambda d: d["diagnoses"][4].update(id="poisoning-opioids"), "rule ids must be unique: poisoning-opioids"),
    (lambda d: d["keywords"][0].update(words=[]), "keywords[0] (complaint-keyword).words"),
    (lambda d: d["orders"][0].update(fields=["OBR4"]), "not HL7 field names like OBR-4: OBR4"),
    (lambda d: d["crisis"]["diagnoses"][0].update(intents=["two"]), "crisis.diagnoses[0]"),
    (lambda d: d.update(diagnosis=[]), "diagnosis: Extra inputs"),
])
def test_a_wrong_rule_file_is_refused_naming_the_rule_and_the_field(tweak, says):
    with pytest.raises(RulesError) as info:
        parse_rules(program(tweak), "program.yaml")
    assert "program.yaml" in str(info.value) and says in str(info.value), str(info.value)


def test_a_missing_or_broken_rule_file_stops_intake_with_its_name(tmp_path: Path):
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path / "nowhere.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("program: x\ndiagnoses: [\n")
    with pytest.raises(RulesError, match=r"broken.yaml: not valid YAML at line \d"):
        load_rules(broken)
    broken.write_text("- just a list\n")
    with pytest.raises(RulesError, match="expected a mapping"):
        load_rules(broken)


def test_the_rules_command_lists_each_rule_on_or_off_and_refuses_a_wrong_file(tmp_path: Path, capsys):
    assert rules_command([str(DEFAULT)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"program default: {DEFAULT}"
    assert ["diagnoses", "poisoning-cannabis", "on"] in [line.split() for line in out]
    assert ["diagnoses", "poisoning-other-drugs", "off"] in [line.split() for line in out]
    assert ["crisis.keywords", "crisis-keyword", "on"] in [line.split() for line in out]
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(program(lambda d: d["orders"][0].update(codes=[]))))
    assert rules_command([str(wrong)]) == 1
    assert "orders[0] (peer-consult-order).codes" in capsys.readouterr().err
