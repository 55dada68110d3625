"""The bench's billing rules: DynamoDB request units from item sizes, and prices."""

import pytest

from bench.billing import Bill, load_prices, plain_step_functions_usd, temporal_cloud_usd
from bench.meter import _read_units, _write_units

GSI = {"GSI1PK": "ORG#a#RUNS", "GSI1SK": "run_1"}


@pytest.mark.parametrize(
    ("before", "after", "failed", "units"),
    [
        ((None, 0), (None, 500), False, 1),  # a new small item
        ((None, 500), (None, 1025), False, 2),  # grew past 1 KB
        ((None, 3000), (None, 100), False, 3),  # the larger of before and after
        ((GSI, 500), (GSI, 600), False, 2),  # in the index: written there too
        ((None, 0), (GSI, 600), False, 2),  # enters the index
        ((GSI, 500), ({**GSI, "GSI1SK": "x"}, 500), False, 3),  # index key moved: old goes
        ((GSI, 2500), (GSI, 2500), True, 3),  # a failed condition still pays for the item
        ((None, 0), (None, 0), True, 1),
    ],
)
def test_write_units_follow_dynamodbs_rules(before, after, failed, units):
    assert _write_units(before, after, failed) == units


def test_read_units_are_per_4kb_and_half_when_eventually_consistent():
    assert _read_units(100, consistent=True) == 1
    assert _read_units(4097, consistent=True) == 2
    assert _read_units(4097, consistent=False) == 1
    assert _read_units(0, consistent=False) == 0.5


def test_a_bill_is_priced_from_the_price_file():
    prices = load_prices()
    bill = Bill(transitions=1000, write_units=1_000_000, lambda_invocations=1_000_000)
    usd = bill.usd(prices)
    assert usd["stepfunctions"] == pytest.approx(0.025)
    assert usd["dynamodb"] == pytest.approx(0.625)
    assert usd["lambda"] == pytest.approx(0.2)
    assert usd["total"] == pytest.approx(0.85)
    assert ((bill - bill) * 3).usd(prices)["total"] == 0
    assert (bill / 1000).transitions == 1


def test_the_alternatives_are_priced_per_node():
    prices = load_prices()
    assert temporal_cloud_usd(1000, prices) == pytest.approx(0.05)
    # A transition and an invocation per node; no duration, no DynamoDB.
    assert plain_step_functions_usd(1000, 0, prices) == pytest.approx(0.025 + 0.0002)
    assert all(item["source"].startswith("https://") for item in prices["items"].values())
