"""The operator command that creates an org's first API key."""

import json

import boto3
import pytest

from stepwise.ops import admin
from tests.helpers import http_event


def test_a_created_key_is_printed_once_and_works(stack, capsys):
    table = stack.stack.names["StepwiseTable"]
    assert admin.main(["create-key", "--table", table, "--org", "initech"]) == 0
    key = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert key.startswith("swk_")
    response = stack.invoke("ApiFunction", http_event("GET", "/v1/orgs/initech/runs", key=key))
    assert response["statusCode"] == 200 and json.loads(response["body"])["data"] == []
    # It is an admin key: it can manage the org's keys.
    keys = stack.invoke("ApiFunction", http_event("GET", "/v1/orgs/initech/keys", key=key))
    assert keys["statusCode"] == 200 and json.loads(keys["body"])["data"][0]["scopes"] == ["admin"]
    # Only the hash is stored.
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert key not in json.dumps(items)


def test_a_bad_org_id_is_refused(stack, capsys):
    with pytest.raises(SystemExit):
        admin.main(["create-key", "--table", "t", "--org", "Bad Org"])
    assert "--org must match" in capsys.readouterr().err
