"""The local stack's Express names: unique per start, within StartExecution's 80 characters."""

from stepwise_local import express


def test_a_short_name_gets_a_suffix_and_reads_back():
    local = express._own("run_1-a")
    assert local != "run_1-a" and local.startswith("run_1-a-x")
    assert express.given_name(local) == "run_1-a"


def test_a_name_near_the_limit_is_cut_to_80_and_still_reads_back():
    given = "r" * 60 + "-each-items0-at20261202011646-x"
    given = given[:80]
    local = express._own(given)
    assert len(local) <= 80
    assert local != given
    assert express.given_name(local) == given
