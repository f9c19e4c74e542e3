"""What the peer reads (reasons, languages, times) and how an encounter's times are read from the form."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.console.api_peer import encounter_times
from services.console.domain import consent, words
from services.console.pages import safe_next

pytestmark = pytest.mark.unit
AT = datetime(2031, 3, 9, 2, 50, tzinfo=timezone.utc)  # arbitrary, far from today: the logic takes the instant


@pytest.mark.parametrize("indications, said", [
    ([{"kind": "diagnosis", "category": "opioid-poisoning", "substance": "opioids"},
      {"kind": "keyword", "category": "chief-complaint", "substance": None}], "opioid overdose"),
    ([{"kind": "diagnosis", "category": "substance-use-disorder", "substance": "alcohol"}],
     "alcohol use (withdrawal or intoxication)"),
    ([{"kind": "diagnosis", "category": "substance-use-disorder", "substance": "stimulants"},
      {"kind": "diagnosis", "category": "opioid-poisoning", "substance": "opioids"}],
     "opioid overdose, stimulant use"),
    ([{"kind": "keyword", "category": "chief-complaint", "substance": None}], "substance use named at triage"),
    ([{"kind": "clinician-request", "category": None, "substance": None}], "clinician asked for a peer"),
    ([], "peer support requested"),
])
def test_a_visits_reasons_are_said_in_words_overdose_first(indications, said):
    assert words.reasons(indications) == said


def test_languages_times_and_deadlines_read_at_a_glance():
    assert (words.language("es"), words.language("pt-BR"), words.language(None)) == (
        "Spanish", "Portuguese (Brazil)", "not recorded")
    assert [words.duration(s) for s in (0, 59, 60, 3599, 3600, 7500)] == [
        "0 s", "59 s", "1 min", "59 min", "1 h 00 min", "2 h 05 min"]
    assert words.since(AT - timedelta(seconds=20), AT) == "under a minute"
    assert words.left(AT + timedelta(minutes=9, seconds=30), AT) == "9 min left"
    assert words.left(AT - timedelta(seconds=1), AT) == "expired"
    assert words.parse_instant("not a time") is None


def test_minutes_end_when_the_tap_was_first_sent_so_a_retry_sends_the_same_encounter():
    first = {"mode": "minutes", "minutes": "45", "sent_at": "2031-03-09T02:40:00.000Z"}
    start, end = encounter_times(first, AT)
    assert (end - start, end) == (timedelta(minutes=45), datetime(2031, 3, 9, 2, 40, tzinfo=timezone.utc))
    assert encounter_times(first, AT + timedelta(minutes=7)) == (start, end)  # retried later: the same times
    assert encounter_times({"mode": "minutes", "minutes": "45"}, AT)[1] == AT  # no script: the server's clock


def test_clock_times_are_read_in_the_phones_zone_and_may_span_midnight():
    eastern = {"mode": "times", "start": "23:40", "end": "00:25", "tz_offset": "300",
               "sent_at": "2031-03-09T05:30:00Z"}  # 00:30 in New York (UTC-5)
    start, end = encounter_times(eastern, AT)
    assert start.isoformat() == "2031-03-08T23:40:00-05:00" and end.isoformat() == "2031-03-09T00:25:00-05:00"


@pytest.mark.parametrize("form", [{"mode": "minutes", "minutes": "0"}, {"mode": "minutes", "minutes": "many"},
                                  {"mode": "minutes", "minutes": "481"}, {"mode": "times", "start": "25:00"}])
def test_unreadable_or_impossible_times_are_said_plainly(form):
    assert isinstance(encounter_times(form, AT), str)


def test_after_sign_in_only_a_path_of_this_site_is_followed():
    assert safe_next("/peer/offers/abc") == "/peer/offers/abc"
    assert [safe_next(p) for p in ("//evil.example", "https://evil.example", "/\\evil.example", "", None)] == [""] * 5


def test_the_consent_names_every_element_of_42_cfr_2_31_a():
    paragraphs = " ".join(e.paragraph for e in consent.elements("NJGEN"))
    for n in range(1, 10):
        assert f"(a)({n})" in paragraphs or (n == 9 and "(a)(8)-(9)" in paragraphs), n
    assert all("NJGEN" in e.text for e in consent.elements("NJGEN") if e.paragraph in ("(a)(2)", "(a)(4)"))


def test_the_consent_sends_the_recipient_it_names_to_pairing_by_the_facilitys_code():
    [treating] = consent.recipients("NJGEN")
    assert (treating["system"], treating["value"]) == ("urn:peerbridge:facility", "NJGEN")
    assert "NJGEN" in treating["name"]
    from services.pairing.models import ConsentIn   # what pairing's API accepts
    assert ConsentIn(granted=True, scope=consent.SCOPE, recipients=consent.recipients("NJGEN")).recipients
