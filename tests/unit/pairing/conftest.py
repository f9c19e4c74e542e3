"""The pairing service with fakes at its boundaries, for the case-rule tests."""
import pytest

from tests.unit.pairing.case_harness import Pairing


@pytest.fixture
def pairing() -> Pairing:
    return Pairing()
