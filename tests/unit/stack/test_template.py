"""template.yaml and the ASL files: the wiring that cfn-lint and `sam validate` do not check."""

import ast
import functools
import json
import re
from pathlib import Path

import pytest

from stepwise_local.template import load_template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"

FUNCTIONS = {
    "ApiFunction": "api",
    "EngineFunction": "engine",
    "DispatcherFunction": "dispatcher",
    "SignalsFunction": "signals",
    "TriggerFunction": "trigger",
    "JanitorFunction": "janitor",
    "BatchesFunction": "batches",
    "BulkFunction": "bulk",
}
# The settings classes each function reads (the janitor finalises runs as the engine does).
SETTINGS = {
    "ApiFunction": ("ApiSettings", "ScheduleSettings", "BatchSettings", "BulkSettings"),
    "EngineFunction": ("EngineSettings",),
    "DispatcherFunction": ("DispatcherSettings",),
    "SignalsFunction": ("CoreSettings",),
    "TriggerFunction": ("TriggerSettings",),
    "JanitorFunction": ("EngineSettings",),
    "BatchesFunction": ("BatchSettings",),
    "BulkFunction": ("BulkSettings", "EngineSettings"),
}
QUEUES = {
    "WebhookQueue": "WebhookDeadLetterQueue",
    "SignalQueue": "SignalDeadLetterQueue",
    "BatchQueue": "BatchDeadLetterQueue",
    "BulkQueue": "BulkDeadLetterQueue",
}
FORBIDDEN_ACTIONS = {"*", "dynamodb:*", "states:*"}
PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix"}


@functools.cache
def _load_template() -> dict:
    return load_template(TEMPLATE)


@pytest.fixture
def template() -> dict:
    return _load_template()


@pytest.fixture
def resources(template) -> dict:
    return template["Resources"]


STATE_MACHINES = sorted(
    name
    for name, resource in _load_template()["Resources"].items()
    if resource["Type"] == "AWS::Serverless::StateMachine"
)
# Express: no task tokens, at most 5 minutes; only what fits runs there (engine/fan_out_plan.py).
EXPRESS_MACHINES = {"ItemsExpressStateMachine", "NodeExpressStateMachine"}


def _walk(value):
    """Every dict nested anywhere in value (value included)."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _transitions(state: dict) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [rule["Next"] for rule in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def _check_scope(scope: dict, where: str) -> None:
    """One States/StartAt scope (and the nested ones of Parallel and Map states)."""
    states = scope["States"]
    assert scope["StartAt"] in states, f"{where}: StartAt {scope['StartAt']!r} is not a state"
    for name, state in states.items():
        for target in _transitions(state):
            assert target in states, f"{where}: {name} -> {target!r}, no such state"
        if state["Type"] not in ("Choice", "Succeed", "Fail"):
            ends = bool(state.get("End"))
            assert ("Next" in state) != ends, f"{where}: {name} needs Next or End, not both"
        for branch in state.get("Branches", []):
            _check_scope(branch, f"{where}/{name}")
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                _check_scope(state[key], f"{where}/{name}")
    reached, todo = set(), [scope["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(_transitions(states[name]))
    assert reached == set(states), f"{where}: unreachable states {sorted(set(states) - reached)}"


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_definition_substitutions_cover_exactly_the_asl_placeholders(resources, machine):
    """Every ${...} in the ASL file is substituted, and no substitution is left unused."""
    props = resources[machine]["Properties"]
    text = (ROOT / props["DefinitionUri"]).read_text()
    placeholders = set(re.findall(r"\$\{([^}]+)\}", text))
    substitutions = props.get("DefinitionSubstitutions", {})
    assert placeholders == set(substitutions)
    for value in substitutions.values():
        for ref in _walk(value):
            target = ref.get("Ref") or (ref.get("Fn::GetAtt") or [None])[0]
            known = target is None or target in resources or target in PSEUDO_PARAMETERS
            assert known, f"{machine}: {target} does not exist"


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_asl_transitions_name_existing_states_and_every_state_is_reachable(resources, machine):
    """StartAt/Next/Default/Catch targets exist, every state ends or moves on, none is orphaned."""
    definition = json.loads((ROOT / resources[machine]["Properties"]["DefinitionUri"]).read_text())
    _check_scope(definition, machine)


@pytest.mark.parametrize(("function", "folder"), sorted(FUNCTIONS.items()))
def test_handlers_point_at_the_function_app_files(resources, function, folder):
    """CodeUri + Handler resolve to functions/<name>/app.py, which defines the handler."""
    props = resources[function]["Properties"]
    module, attribute = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module.replace('.', '/')}.py"
    assert path.resolve() == (ROOT / "functions" / folder / "app.py").resolve()
    assert path.is_file(), f"{path} is missing"
    tree = ast.parse(path.read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert attribute in defined, f"{path} defines no top-level {attribute}()"


def test_table_has_keys_gsis_ttl_and_pitr(resources):
    """The single-table layout the store relies on: PK/SK, GSI1 (ALL), GSI2 and GSI3 (runs by
    workflow and by status), TTL expires_at, PITR."""
    table = resources["StepwiseTable"]
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    indexes = {gsi["IndexName"]: gsi for gsi in props["GlobalSecondaryIndexes"]}
    assert sorted(indexes) == ["GSI1", "GSI2", "GSI3"]
    for name, gsi in indexes.items():
        assert gsi["KeySchema"] == [
            {"AttributeName": f"{name}PK", "KeyType": "HASH"},
            {"AttributeName": f"{name}SK", "KeyType": "RANGE"},
        ]
    assert indexes["GSI1"]["Projection"] == {"ProjectionType": "ALL"}
    attributes = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert attributes == {"PK": "S", "SK": "S"} | {
        f"{name}{part}": "S" for name in indexes for part in ("PK", "SK")
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("index", ["GSI2", "GSI3"])
def test_the_run_indexes_project_every_attribute_a_run_summary_reads(resources, index):
    """A run list from GSI2 or GSI3 shows what GET /runs shows: nothing read is left out."""
    from stepwise.runs.records import RunRecord
    from stepwise.runs.views import run_summary

    class Recording:
        """A run record that notes each attribute read (record attributes are item names)."""

        def __init__(self, record):
            self.record, self.read = record, set()

        def __getattr__(self, name):
            self.read.add(name)
            return getattr(self.record, name)

    run = Recording(
        RunRecord.from_item(
            {
                "run_id": "run_1",
                "org_id": "acme",
                "workflow_id": "wf_1",
                "workflow_version": 1,
                "status": "queued",
                "created_at": "2026-11-24T00:00:00+00:00",
            }
        )
    )
    run_summary(run)
    gsi = next(
        g
        for g in resources["StepwiseTable"]["Properties"]["GlobalSecondaryIndexes"]
        if g["IndexName"] == index
    )
    assert gsi["Projection"]["ProjectionType"] == "INCLUDE"
    assert run.read <= set(gsi["Projection"]["NonKeyAttributes"])
    # A list by tag reads its runs with these attributes: the same as the indexes project.
    from stepwise.runs.queries import SUMMARY_ATTRIBUTES

    assert set(SUMMARY_ATTRIBUTES) == set(gsi["Projection"]["NonKeyAttributes"])


@pytest.mark.parametrize(("queue", "dlq"), sorted(QUEUES.items()))
def test_each_queue_redrives_to_its_dead_letter_queue(resources, queue, dlq):
    """Poison messages end in the queue's own DLQ after 5 receives, kept there 14 days."""
    props = resources[queue]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert props["SqsManagedSseEnabled"] is True
    dlq_props = resources[dlq]["Properties"]
    assert resources[dlq]["Type"] == "AWS::SQS::Queue"
    assert "RedrivePolicy" not in dlq_props
    assert dlq_props["MessageRetentionPeriod"] == 1209600
    assert dlq_props["SqsManagedSseEnabled"] is True


def test_payload_bucket_is_private_encrypted_and_tls_only(resources):
    """Public access fully blocked, ACLs off, default encryption on, non-TLS requests denied."""
    props = resources["PayloadBucket"]["Properties"]
    block = props["PublicAccessBlockConfiguration"]
    assert set(block) == {
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    }
    assert all(value is True for value in block.values())
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    policy = resources["PayloadBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "PayloadBucket"}
    assert any(
        statement["Effect"] == "Deny"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for statement in policy["PolicyDocument"]["Statement"]
    )


def test_no_policy_statement_grants_wildcard_actions(template):
    """No statement anywhere names Action "*", dynamodb:* or states:*; no Allow is service-wide."""
    statements = [
        statement
        for node in _walk(template)
        if isinstance(node.get("Statement"), list)
        for statement in node["Statement"]
    ]
    assert len(statements) >= 5, "found suspiciously few policy statements"
    for statement in statements:
        assert "NotAction" not in statement, statement
        actions = _as_list(statement["Action"])
        assert not FORBIDDEN_ACTIONS & set(actions), statement
        if statement["Effect"] == "Allow":
            assert not [a for a in actions if a.endswith(":*")], statement


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_state_machines_are_standard_traced_and_logged(resources, machine):
    """STANDARD type (task tokens, long waits) but the Express machines (nodes and for_each
    chunks that wait for nothing and fit in five minutes), X-Ray on, ERROR logs to a log group
    of the stack (for Express, the only record of a failure)."""
    props = resources[machine]["Properties"]
    assert props["Type"] == ("EXPRESS" if machine in EXPRESS_MACHINES else "STANDARD")
    assert props["Tracing"] == {"Enabled": True}
    logging = props["Logging"]
    assert logging["Level"] in ("ALL", "ERROR", "FATAL")
    assert logging["IncludeExecutionData"] is False
    [destination] = logging["Destinations"]
    log_group, attribute = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert attribute == "Arn"


def test_arns_built_from_names_match_the_state_machine_names(template, resources):
    """Env vars and policies build machine ARNs by name: the names must match."""
    names = {resources[machine]["Properties"]["Name"]["Fn::Sub"] for machine in STATE_MACHINES}
    assert names == {
        "${AWS::StackName}-node",
        "${AWS::StackName}-node-express",
        "${AWS::StackName}-items",
        "${AWS::StackName}-items-express",
    }
    subs = [node["Fn::Sub"] for node in _walk(template) if isinstance(node.get("Fn::Sub"), str)]
    built = [sub for sub in subs if re.search(r":(stateMachine|execution):", sub)]
    assert built, "no state machine ARN is built by name"
    for arn in built:
        name = re.split(r":(?:stateMachine|execution):", arn, maxsplit=1)[1].removesuffix(":*")
        assert name in names, f"{arn} names no state machine of this template"
    env = {
        function: resources[function]["Properties"].get("Environment", {}).get("Variables", {})
        for function in FUNCTIONS
    }
    # Runs have no machine of their own: they start, time out and finish on RunQueue.
    for function in ("ApiFunction", "EngineFunction", "BatchesFunction", "TriggerFunction"):
        assert env[function]["RUN_QUEUE_URL"] == {"Ref": "RunQueue"}, function
    assert env["EngineFunction"]["NODE_STATE_MACHINE_ARN"]["Fn::Sub"].endswith(
        ":stateMachine:${AWS::StackName}-node"
    )
    for function in ("EngineFunction", "BulkFunction", "JanitorFunction"):
        assert env[function]["NODE_EXPRESS_STATE_MACHINE_ARN"]["Fn::Sub"].endswith(
            ":stateMachine:${AWS::StackName}-node-express"
        )


def test_every_function_of_the_template_is_checked_here(resources):
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTIONS) == set(SETTINGS)


@pytest.mark.parametrize(
    ("function", "settings_class"),
    sorted((function, name) for function, names in SETTINGS.items() for name in names),
)
def test_every_setting_a_function_reads_is_in_its_template_environment(
    template, resources, function, settings_class
):
    """A setting the code reads but the template does not give the function fails at cold start
    in AWS; this catches it before deploying."""
    from stepwise.core import settings

    model = getattr(settings, settings_class)
    needed = {field.alias for field in model.model_fields.values()}
    given = set(template["Globals"]["Function"]["Environment"]["Variables"])
    given |= set(resources[function]["Properties"].get("Environment", {}).get("Variables", {}))
    assert needed <= given, sorted(needed - given)


SEND_TASK = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
# The task-token calls each function's code makes (stepwise.infra.executions: resume_run is
# SendTaskSuccess, heartbeat is SendTaskHeartbeat). The janitor finalises runs as the engine
# does: it resumes a child's parent (a node execution's AwaitChild) and cancels child runs (a
# run execution's token), so it needs the call on tokens of both machines.
TASK_TOKEN_CALLS = {
    "ApiFunction": set(),  # a cancel queues the run's finalisation
    "EngineFunction": {"states:SendTaskSuccess"},
    "DispatcherFunction": {"states:SendTaskSuccess"},  # a delivered webhook resumes Deliver
    "SignalsFunction": {"states:SendTaskSuccess", "states:SendTaskHeartbeat"},
    "JanitorFunction": {"states:SendTaskSuccess"},
    "TriggerFunction": set(),
    "BatchesFunction": set(),
    "BulkFunction": {"states:SendTaskSuccess"},  # a run its released nodes settle, finalised
}


def _inline_statements(resource: dict) -> list[dict]:
    return [
        statement
        for policy in resource["Properties"].get("Policies", [])
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]


def test_the_code_makes_only_the_task_token_calls_listed_here():
    """If the code starts making another SendTask* call, TASK_TOKEN_CALLS must say who does."""
    source = (ROOT / "layers/core/stepwise/infra/executions.py").read_text()
    calls = {
        "states:SendTask" + name.title() for name in re.findall(r"\.send_task_(\w+)\(", source)
    }
    assert calls == set().union(*TASK_TOKEN_CALLS.values())


def test_task_token_calls_are_granted_on_resource_star_as_iam_defines_them(template):
    """The Service Authorization Reference lists no resource type for SendTaskSuccess, Failure
    and Heartbeat: a statement granting them must name Resource "*", and nothing else may ride
    on that "*" (see the comment at the top of template.yaml)."""
    statements = [
        statement
        for node in _walk(template)
        if isinstance(node.get("Statement"), list)
        for statement in node["Statement"]
    ]
    granting = [s for s in statements if SEND_TASK & set(_as_list(s["Action"]))]
    assert granting, "no statement grants a task-token call"
    for statement in granting:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == "*", statement
        assert set(_as_list(statement["Action"])) <= SEND_TASK, statement


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_is_granted_exactly_the_task_token_calls_its_code_makes(resources, function):
    """A call the role lacks is AccessDenied on AWS (moto enforces no IAM); a grant no call uses
    is a token its role could spend for nothing."""
    granted: set[str] = set()
    for statement in _inline_statements(resources[function]):
        granted |= SEND_TASK & set(_as_list(statement["Action"]))
    assert granted == TASK_TOKEN_CALLS[function]


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_asl_files_name_no_partition_of_their_own(resources, machine):
    """ARNs in the ASL take the stack's partition (aws-cn, aws-us-gov deploy the same files)."""
    props = resources[machine]["Properties"]
    text = (ROOT / props["DefinitionUri"]).read_text()
    assert not re.findall(r"arn:aws[\w-]*:", text), "use arn:${Partition}: in the ASL"
    if "${Partition}" in text:
        assert props["DefinitionSubstitutions"]["Partition"] == {"Ref": "AWS::Partition"}


# HTTP API access-log variables that carry no part of the request's path or query string
# (API Gateway's "Customize HTTP API access logs"). $context.path, and the custom domain's
# $context.customDomain.basePathMatched, carry the path: a signal URL's path is its token.
# routeKey is the route template ("ANY /{proxy+}"), never the path that matched it.
ACCESS_LOG_SAFE = {
    "requestId",
    "identity.sourceIp",
    "requestTime",
    "httpMethod",
    "routeKey",
    "status",
    "protocol",
    "responseLength",
    "responseLatency",
    "integrationLatency",
    "integrationStatus",
    "integrationErrorMessage",
}


@pytest.mark.attack
def test_the_access_log_records_the_route_and_nothing_that_can_carry_a_path(resources):
    """Every $context variable of the HTTP API's access log is one known to carry no path or
    query (an unknown one fails too), and the log keeps the route and the request id."""
    format_ = resources["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
    fields = json.loads(format_)
    variables = set(re.findall(r"\$context\.([A-Za-z0-9_.]+)", format_))
    assert variables, "the access log records no $context variable"
    assert variables <= ACCESS_LOG_SAFE, sorted(variables - ACCESS_LOG_SAFE)
    assert "$context.routeKey" in fields.values()
    assert "$context.requestId" in fields.values()


STATEFUL_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
}
# Where data or trust lives: kept when the stack deletes or replaces them (cfn-lint I3011).
RETAINED = {
    "StepwiseTable",
    "PayloadBucket",
    "SignalSigningSecret",  # every signal URL handed out is signed with it
    "WebhookDeadLetterQueue",
    "SignalDeadLetterQueue",
    "BatchDeadLetterQueue",
    "BulkDeadLetterQueue",
    "RunDeadLetterQueue",
    "ScheduleDeadLetterQueue",
    "HttpApiAccessLogGroup",
    "ApiFunctionLogGroup",
    "EngineFunctionLogGroup",
    "DispatcherFunctionLogGroup",
    "SignalsFunctionLogGroup",
    "BatchesFunctionLogGroup",
    "BulkFunctionLogGroup",
    "TriggerFunctionLogGroup",
    "JanitorFunctionLogGroup",
}


def test_stateful_resources_say_what_happens_to_them_on_delete_and_replace(resources):
    """Every table, bucket, secret, queue and log group sets DeletionPolicy and
    UpdateReplacePolicy explicitly; those holding data or trust are retained, the rest deleted."""
    stateful = {name for name, r in resources.items() if r["Type"] in STATEFUL_TYPES}
    assert stateful >= RETAINED, sorted(RETAINED - stateful)
    for name in sorted(stateful):
        resource = resources[name]
        expected = "Retain" if name in RETAINED else "Delete"
        assert resource.get("DeletionPolicy") == expected, name
        assert resource.get("UpdateReplacePolicy") == expected, name


def _function_timeout(template: dict, function: dict) -> int:
    own = function["Properties"].get("Timeout")
    return int(own if own is not None else template["Globals"]["Function"]["Timeout"])


def test_every_queue_a_function_consumes_waits_six_times_its_timeout(template, resources):
    """Lambda advises a visibility timeout of at least six times the function's timeout for an
    SQS source: a shorter one hands a batch still in flight (throttled, or retried by Lambda)
    to another invocation, and after maxReceiveCount to the dead-letter queue."""
    consumed = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            visibility = int(resources[queue]["Properties"]["VisibilityTimeout"])
            consumed.append((name, queue))
            assert visibility >= 6 * _function_timeout(template, resource), (name, queue)
    assert len(consumed) >= 3  # the dispatcher, signals and batches functions at least


def _terminal_states(states: dict) -> list[tuple[str, dict]]:
    return [(n, s) for n, s in states.items() if s.get("End") or s["Type"] in ("Succeed", "Fail")]


@pytest.mark.parametrize("machine", STATE_MACHINES)
def test_every_map_iteration_ends_with_an_empty_result(resources, machine):
    """A Map collects one result per item before ResultPath discards them, and that array is
    bound by the 256 KB state limit: iterations that returned their state (about 200 bytes)
    would pass it long before for_each's 10,000 items."""
    from stepwise.engine.for_each_steps import MAX_FOR_EACH_ITEMS

    definition = json.loads((ROOT / resources[machine]["Properties"]["DefinitionUri"]).read_text())
    maps = [s for s in definition["States"].values() if s["Type"] == "Map"]
    for state in maps:
        inner = (state.get("ItemProcessor") or state["Iterator"])["States"]
        for name, end in _terminal_states(inner):
            assert end["Type"] == "Pass" and end.get("Parameters") == {}, name
        assert state["ResultPath"] is None
        assert MAX_FOR_EACH_ITEMS * len("{},") < 256 * 1024


def _statement_actions(statement: dict) -> set[str]:
    return {a.lower() for a in _as_list(statement.get("Action", []))}


@pytest.mark.attack
def test_only_the_dispatcher_can_read_an_orgs_secrets(resources):
    """Issue 14 row 8: the API writes credentials and signing secrets but never reads one (a
    leaked API role must not hand out every org's credentials); the functions that deliver
    present them: the dispatcher, and the engine for an Express execution's attempt, which it
    delivers within its step."""
    readers = set()
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for statement in _inline_statements(resource):
            if "secretsmanager:getsecretvalue" not in _statement_actions(statement):
                continue
            if "/org/*" in json.dumps(statement.get("Resource")):
                readers.add(name)
    assert readers == {"DispatcherFunction", "EngineFunction"}
    api_actions = set().union(
        *(_statement_actions(s) for s in _inline_statements(resources["ApiFunction"]))
    )
    assert {"secretsmanager:getsecretvalue", "secretsmanager:tagresource"}.isdisjoint(api_actions)


def _route_keys(resources) -> set[str]:
    events = resources["ApiFunction"]["Properties"]["Events"].values()
    return {
        f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}"
        for e in events
        if e["Type"] == "HttpApi"
    }


def _default(template, value) -> int:
    assert set(value) == {"Ref"}, f"{value} is not a template parameter"
    return int(template["Parameters"][value["Ref"]]["Default"])


def test_signal_callbacks_and_the_org_api_are_throttled_apart_by_parameters(template, resources):
    """Issue 14 row 7: API Gateway throttles per route, so the signal callback route and the org
    API are routes of their own, each with its throttle a parameter, and callbacks get more room
    than the org API (a flood of org requests cannot starve destinations' callbacks)."""
    api = resources["HttpApi"]["Properties"]
    routes = api["RouteSettings"]
    assert set(routes) <= _route_keys(resources), "a route setting names a route nobody declares"
    org = routes["ANY /v1/orgs/{proxy+}"]
    signal = routes["POST /v1/signals/{token}"]
    for settings in (org, signal, api["DefaultRouteSettings"]):
        assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(settings)
        rate = _default(template, settings["ThrottlingRateLimit"])
        assert rate <= _default(template, settings["ThrottlingBurstLimit"])
    for field in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        assert _default(template, signal[field]) > _default(template, org[field])


def test_the_served_routes_match_the_routes_api_gateway_throttles():
    """The throttled route keys are the API's real paths: the signal route is the FastAPI route
    of signals, and every org route of the OpenAPI document falls under /v1/orgs/{proxy+}."""
    from stepwise.api.app import create_app

    paths = create_app().openapi()["paths"]
    assert "post" in paths["/v1/signals/{token}"]
    org_paths = [p for p in paths if p.startswith("/v1/orgs/")]
    assert org_paths and all(p.startswith("/v1/orgs/{org_id}/") for p in org_paths)


def test_the_api_reads_its_per_org_rate_limit_from_a_parameter(template, resources):
    from stepwise.api import rate_limits

    variables = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[rate_limits.LIMIT_ENV] == {"Ref": rate_limits.PARAMETER}
    assert _default(template, variables[rate_limits.LIMIT_ENV]) > 0  # on by default
