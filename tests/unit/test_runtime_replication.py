"""Topics are replicated as the cluster allows: 3 with min.insync.replicas 2 from three brokers, else 1."""
import pytest

from services.runtime.service import replication

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("brokers", "expected"), [
    (1, (1, {})),
    (2, (1, {})),  # two brokers cannot keep min ISR 2 through the loss of one
    (3, (3, {"min.insync.replicas": "2"})),
    (5, (3, {"min.insync.replicas": "2"})),
])
def test_replication_follows_the_broker_count(brokers, expected):
    assert replication(brokers) == expected
