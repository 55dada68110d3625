"""The meter's write units for global secondary indexes, by DynamoDB's rules: an index costs a
write only when the item enters it, leaves it, moves its keys or changes what it projects."""

from moto.dynamodb.models.dynamo_type import DynamoType

from bench.meter import Index, _write_units, indexes

ALL = Index(("GSI1PK", "GSI1SK"), "ALL")
INCLUDE = Index(("GSI2PK", "GSI2SK"), "INCLUDE", ("status",))


def item(**attrs):
    stored = {"PK": DynamoType({"S": "ORG#a"}), "SK": DynamoType({"S": "RUN#1"})}
    stored.update({k: DynamoType({"S": v}) for k, v in attrs.items()})
    return stored, 100


def test_the_template_declares_the_indexes_the_meter_prices():
    found = indexes()
    assert [i.keys for i in found] == [
        ("GSI1PK", "GSI1SK"),
        ("GSI2PK", "GSI2SK"),
        ("GSI3PK", "GSI3SK"),
    ]
    assert found[0].projection == "ALL"
    assert found[1].projection == "INCLUDE" and found[1].included


def test_an_item_outside_every_index_costs_the_table_only():
    assert _write_units((None, 0), item(note="x"), False, [ALL, INCLUDE]) == 1


def test_entering_an_index_costs_one_write_there():
    after = item(GSI2PK="p", GSI2SK="s", status="queued")
    assert _write_units((None, 0), after, False, [INCLUDE]) == 2


def test_an_update_of_what_an_index_does_not_project_costs_it_nothing():
    before = item(GSI2PK="p", GSI2SK="s", status="queued", note="a")
    after = item(GSI2PK="p", GSI2SK="s", status="queued", note="b")
    assert _write_units(before, after, False, [INCLUDE]) == 1
    # ALL projects every attribute: the same update writes that index
    before_all = item(GSI1PK="p", GSI1SK="s", note="a")
    after_all = item(GSI1PK="p", GSI1SK="s", note="b")
    assert _write_units(before_all, after_all, False, [ALL]) == 2


def test_moving_an_index_key_deletes_the_old_entry_and_puts_the_new():
    before = item(GSI2PK="p", GSI2SK="queued#1", status="queued")
    after = item(GSI2PK="p", GSI2SK="running#1", status="running")
    assert _write_units(before, after, False, [INCLUDE]) == 3


def test_a_failed_condition_costs_the_table_only():
    before = item(GSI1PK="p", GSI1SK="s")
    assert _write_units(before, before, True, [ALL, INCLUDE]) == 1


def test_the_table_costs_a_unit_per_started_kb_of_the_larger_item():
    assert _write_units((None, 0), ({}, 500), False, []) == 1
    assert _write_units(({}, 500), ({}, 1025), False, []) == 2
    assert _write_units(({}, 3000), ({}, 100), False, []) == 3
    assert _write_units(({}, 2500), ({}, 2500), True, [ALL]) == 3


def test_a_transaction_doubles_the_table_write_and_not_the_index_writes():
    # Prepare and commit write the item twice; its index entries are written once, by the
    # propagation that follows the commit.
    before = item(GSI2PK="p", GSI2SK="queued#1", status="queued")
    after = item(GSI2PK="p", GSI2SK="running#1", status="running")
    assert _write_units(before, after, False, [INCLUDE], transactional=True) == 2 + 2
    assert _write_units((None, 0), after, False, [ALL, INCLUDE], transactional=True) == 2 + 1
    # A cancelled transaction still costs its items' prepare and commit, and no index write.
    assert _write_units(before, before, True, [ALL, INCLUDE], transactional=True) == 2
