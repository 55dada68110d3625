"""What each scope a key holds lets it do: admin everything, write and approve apart."""

import pytest

from stepwise.access.api_keys import Scope, allows

GRANTED = {
    "read": {"read"},
    "write": {"read", "write"},
    "approve": {"read", "approve"},
    "admin": {"read", "write", "approve", "admin"},
}


@pytest.mark.parametrize("held", sorted(GRANTED))
@pytest.mark.parametrize("needed", list(Scope))
def test_a_scope_grants_exactly_what_it_should(held, needed):
    assert allows([held], needed) == (str(needed) in GRANTED[held])


def test_write_and_approve_together_grant_both_but_not_admin():
    assert allows(["write", "approve"], Scope.APPROVE)
    assert allows(["write", "approve"], Scope.WRITE)
    assert not allows(["write", "approve"], Scope.ADMIN)


def test_an_unknown_scope_grants_nothing():
    assert not allows(["root"], Scope.READ)
