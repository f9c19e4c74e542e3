"""The payer rule sets as shipped, the plan mapping and effective dates."""
from datetime import date
from pathlib import Path

import pytest
import yaml

from services.billing.domain.rules import RULES_DIR, RuleBook, RuleSet, UnknownPayer, load_rule_book

pytestmark = pytest.mark.unit


def test_demo_plans_map_to_the_three_medicaid_rule_sets(book):
    assert {p: book.rule_set_id(p) for p in ("NJMCD", "TXMCD", "GAMCD", "BCBS", None)} == {
        "NJMCD": "NJ-MEDICAID", "TXMCD": "TX-MEDICAID", "GAMCD": "GA-MEDICAID", "BCBS": None, None: None}


def test_nj_medicaid_is_h0038_hf_sixteen_units_a_day_sud_diagnosis_adults(book):
    nj = book.resolve("NJ-MEDICAID", date(2026, 11, 27))
    assert (nj.procedure_code, nj.modifiers.program, nj.caps.per_day, nj.minimum_age) == ("H0038", ["HF"], 16, 18)
    assert [(r.from_, r.to) for r in nj.required_diagnoses] == [("F10", "F19")]
    assert nj.place_of_service.in_person == "23"


def test_tx_medicaid_is_95_for_telehealth_104_units_in_six_months_age_21(book):
    tx = book.resolve("TX-MEDICAID", date(2026, 11, 27))
    assert tx.modifiers.telehealth_video == ["95"]
    assert (tx.caps.per_period.units, tx.caps.per_period.months, tx.minimum_age) == (104, 6, 21)


def test_ga_medicaid_uses_gt_and_denies_95(book):
    ga = book.resolve("GA-MEDICAID", date(2026, 11, 27))
    assert ga.modifiers.telehealth_video == ["GT"] and "95" in ga.denied_modifiers
    assert ga.place_of_service.telehealth == "02" and ga.place_of_service.telehealth_at_home == "10"


def test_the_version_in_effect_on_the_date_of_service_wins(book, tmp_path: Path):
    nj = yaml.safe_load((RULES_DIR / "NJ-MEDICAID.yaml").read_text())
    (tmp_path / "NJ-MEDICAID.yaml").write_text(yaml.safe_dump(nj))
    (tmp_path / "NJ-MEDICAID.2027.yaml").write_text(yaml.safe_dump(
        {**nj, "effective_from": date(2027, 1, 1), "fee_schedule": {"H0038": "22.50"}}))
    (tmp_path / "plans.yaml").write_text("NJMCD: NJ-MEDICAID\n")
    versions = load_rule_book(tmp_path)
    assert str(versions.resolve("NJ-MEDICAID", date(2026, 12, 31)).rate()) == "20.00"
    assert str(versions.resolve("NJ-MEDICAID", date(2027, 1, 1)).rate()) == "22.50"
    with pytest.raises(UnknownPayer):
        versions.resolve("NJ-MEDICAID", date(2024, 12, 31))


def test_the_documented_template_is_a_valid_rule_set():
    template = RuleSet.model_validate(yaml.safe_load((RULES_DIR / "TEMPLATE.yaml.example").read_text()))
    assert template.units.rounding == "at-least-8-minutes"


def test_a_plan_mapped_to_a_missing_rule_set_is_refused_at_start(book):
    with pytest.raises(ValueError, match="unknown rule sets"):
        RuleBook(list(book.latest(i) for i in ("NJ-MEDICAID",)), {"XXMCD": "XX-MEDICAID"})


def test_a_malformed_rule_file_names_the_file(tmp_path: Path):
    (tmp_path / "BAD.yaml").write_text("id: BAD\nunits: {minutes_per_unit: 0, rounding: sometimes}\n")
    (tmp_path / "plans.yaml").write_text("{}\n")
    with pytest.raises(ValueError, match="BAD.yaml"):
        load_rule_book(tmp_path)
