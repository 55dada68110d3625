"""Items put once and never changed are read eventually consistent (half the read units); only a
miss, which may be an item put moments ago that the replica read has not seen yet, is asked for
again strongly. Everything else is read strongly. A stub client stands in for DynamoDB, whose
replicas moto never lets lag."""

import pytest

from stepwise.infra import aws, dynamo

KEY = {"PK": "ORG#acme#WF#wf_1", "SK": "V#00000001"}
ITEM = {"PK": {"S": KEY["PK"]}, "SK": {"S": KEY["SK"]}, "name": {"S": "w"}}


class LaggingDynamo:
    """Answers GetItem with ``ITEM`` from the strongly consistent copy; the eventually
    consistent one has it only when ``replicated``."""

    def __init__(self, stored: bool, replicated: bool):
        self.stored, self.replicated = stored, replicated
        self.reads: list[bool] = []  # ConsistentRead of each GetItem, in order

    def get_item(self, TableName, Key, ConsistentRead=False, **_):
        assert TableName == "t" and Key == dynamo.to_item(KEY)
        self.reads.append(ConsistentRead)
        seen = self.stored and (ConsistentRead or self.replicated)
        return {"Item": ITEM} if seen else {}


@pytest.fixture
def install(monkeypatch):
    def install(stored: bool = True, replicated: bool = True) -> LaggingDynamo:
        client = LaggingDynamo(stored, replicated)
        monkeypatch.setattr(aws, "client", lambda service: client)
        return client

    return install


def test_an_immutable_item_found_is_read_once_eventually_consistent(install):
    client = install()
    assert dynamo.get_immutable("t", KEY) == {**KEY, "name": "w"}
    assert client.reads == [False]


def test_an_immutable_item_the_replica_has_not_seen_yet_is_read_again_strongly(install):
    client = install(replicated=False)  # just put: the eventually consistent read misses it
    assert dynamo.get_immutable("t", KEY) == {**KEY, "name": "w"}
    assert client.reads == [False, True]


def test_an_immutable_item_that_does_not_exist_is_none_after_a_strong_read(install):
    client = install(stored=False)
    assert dynamo.get_immutable("t", KEY) is None
    assert client.reads == [False, True]


def test_get_item_reads_strongly_unless_told(install):
    client = install(replicated=False)
    assert dynamo.get_item("t", KEY) == {**KEY, "name": "w"}
    assert dynamo.get_item("t", KEY, consistent=False) is None
    assert client.reads == [True, False]
