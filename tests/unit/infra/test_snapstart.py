"""SnapStart on the API function: the handler module registers its hooks with Lambda's runtime
library, and running them as the runtime does leaves nothing in the snapshot that must be
unique to one execution environment."""

import gc
import random
import sys

import pytest
import snapshot_restore_py

from stepwise.infra import aws, snapstart
from stepwise_local.template import load_template


@pytest.fixture
def api_module(monkeypatch):
    monkeypatch.setattr(gc, "freeze", lambda: None)  # keep this test process collectable
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    import functions.api.app as module

    return module


def _run(registry) -> None:
    for func, args, kwargs in registry:
        func(*args, **kwargs)


def test_the_api_handler_registers_both_hooks(api_module):
    before = [func for func, _, _ in snapshot_restore_py.get_before_snapshot()]
    after = [func for func, _, _ in snapshot_restore_py.get_after_restore()]
    assert snapstart.before_snapshot in before
    assert snapstart.after_restore in after


def test_the_snapshot_holds_every_route_and_no_client_or_credentials(api_module):
    aws.clear()
    aws.client("dynamodb")  # a client made before the snapshot (init code, say)
    _run(reversed(snapshot_restore_py.get_before_snapshot()))  # the runtime's order
    groups = api_module.app.state.route_groups
    assert set(groups._built) == set(groups._groups)  # every route built, none left to a request
    assert aws.client.cache_info().currsize == 0
    assert aws._session()._session._credentials is None  # no credentials were looked up
    assert "botocore" in sys.modules


def test_each_restored_environment_draws_its_own_randomness_and_clients(api_module):
    aws.clear()
    captured = aws.client("sqs")
    snapshot = random.getstate()  # what every environment restored from one snapshot shares
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        _run(snapshot_restore_py.get_after_restore())
        draws.append(random.random())
    random.setstate(snapshot)
    assert draws[0] != draws[1] and random.random() not in draws
    assert aws.client("sqs") is not captured


def test_a_snapstart_init_without_the_runtime_library_fails_loudly(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert snapstart.register(lambda: None) is False  # not Lambda: nothing to register
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    with pytest.raises(ImportError):
        snapstart.register(lambda: None)


def test_the_http_api_invokes_a_published_version_that_snapstart_can_apply_to():
    template = load_template()
    api = template["Resources"]["ApiFunction"]["Properties"]
    assert api["AutoPublishAlias"] == "live"
    assert api["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["ApiSnapStartEnabled", "PublishedVersions", "None"]}
    }
    # SnapStart runs on Python 3.12 and later, and not with provisioned concurrency or EFS.
    runtime = api.get("Runtime", template["Globals"]["Function"]["Runtime"])
    assert runtime.startswith("python3.") and int(runtime.split(".")[1]) >= 12
    assert "ProvisionedConcurrencyConfig" not in api and "FileSystemConfigs" not in api
