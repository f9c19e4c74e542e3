"""Fixtures for billing's unit tests."""
import pytest

from services.billing.domain.rules import load_rule_book


@pytest.fixture(scope="session")
def book():
    return load_rule_book()
