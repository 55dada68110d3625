"""The core package's layering, read from its source: AWS is called only at the edges (``infra/``
and the data-access modules below), and table keys, S3 object keys and counter names are built
only in ``infra/keys.py``."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "stepwise"

# The run data access (``store.py`` only groups these, and calls no AWS service itself).
STORE_SPLIT = {
    "workflows/store.py": "workflows and their versions",
    "runs/store.py": "runs, their nodes, counts and tags",
    "engine/run_state.py": "a run's state transitions",
    "engine/node_state.py": "a node's state transitions",
    "actions/attempt_state.py": "an action attempt's state transitions",
    "runs/counters.py": "the run totals' transaction items (for runs/store.py and run_state)",
    "runs/tags.py": "a run's tag index items (for runs/store.py)",
    "runs/repair_store.py": "a redrive's and a rerun's writes on the run and its nodes",
}
# Modules besides ``infra/`` that may call AWS themselves (boto3, ``aws.client``, ``dynamo``).
DATA_ACCESS = {
    **STORE_SPLIT,
    "access/store.py": "API keys and the list of orgs in the table",
    "access/rate_limit_store.py": "per-org request counts (the API's rate limit) in the table",
    "actions/store.py": "action definitions, credentials and destinations in the table",
    "batches/store.py": "batches and their chunks in the table",
    "bulk/store.py": "bulk jobs and their per-run markers in the table",
    "ops/store.py": "what the janitor walks: the orgs, their active runs, where it stopped",
    "runs/log_store.py": "a run's log lines in the table",
    "runs/node_event_store.py": "node events in the table",
    "runs/list_store.py": "the Queries of run lists on the table's indexes",
    "schedules/store.py": "schedules and their firings in the table",
    "schedules/bridge.py": "EventBridge Scheduler's schedules",
}
DOMAINS = (
    "workflows",
    "engine",
    "runs",
    "actions",
    "schedules",
    "batches",
    "bulk",
    "access",
    "ops",
)

KEY_PREFIXES = ("ORG#", "ORGS", "APIKEY#", "IDEMPOTENCY#")
KEY_PARTS = ("#RUN#", "#WF#")
COUNTER_PREFIXES = ("status:", "workflow:")
KEY_ATTRIBUTE = re.compile(r"^(PK|SK|GSI\d+(PK|SK)?)$")
INDEX_NAME = re.compile(r"^GSI\d+(PK|SK)?$")


def modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / module).read_text(), filename=module)


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an import statement names (``from a import b`` names ``a`` and ``a.b``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def aws_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Imports of boto3, botocore or the AWS plumbing, and calls of ``aws.client``."""
    for line, name in imported(tree):
        top = name.split(".")[0]
        if top in ("boto3", "botocore") or name in ("stepwise.infra.aws", "stepwise.infra.dynamo"):
            yield line, f"imports {name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "aws"
        ):
            yield node.lineno, "calls aws.client"


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _text_parts(node: ast.AST) -> list[str] | None:
    """The literal parts of a string constant or f-string, in order (a value as ``{}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
            for v in node.values
        ]
    return None


def key_formats(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Table keys, index names, S3 object keys of payloads and counter names built in place."""
    docstrings = _docstrings(tree)
    parts_of_others = {
        id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
    } | {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and KEY_ATTRIBUTE.match(str(key.value)):
                    yield node.lineno, f"a dict with the key attribute {key.value!r}"
            continue
        if id(node) in docstrings or id(node) in parts_of_others:
            continue
        parts = _text_parts(node)
        if parts is None:
            continue
        text = "".join(parts)
        if text.startswith(KEY_PREFIXES) or any(p in text for p in KEY_PARTS):
            yield node.lineno, f"a table key {text!r}"
        elif isinstance(node, ast.Constant) and INDEX_NAME.match(text):
            yield node.lineno, f"the index name {text!r}"
        elif text.startswith(COUNTER_PREFIXES) and isinstance(node, ast.JoinedStr):
            yield node.lineno, f"a counter name {text!r}"
        elif text.endswith(".json") and "/" in text:
            yield node.lineno, f"an S3 object key {text!r}"


def _report(found: dict[str, list[tuple[int, str]]]) -> str:
    return "\n".join(f"{m}:{line}: {what}" for m, hits in found.items() for line, what in hits)


def test_only_infra_and_the_data_access_modules_call_aws():
    found = {
        module: hits
        for module in modules()
        if not module.startswith("infra/") and module not in DATA_ACCESS
        if (hits := list(aws_calls(_tree(module))))
    }
    assert not found, "AWS called outside infra/ and the data-access modules:\n" + _report(found)


def test_only_the_keys_module_builds_keys():
    found = {
        module: hits
        for module in modules()
        if module != "infra/keys.py"
        if (hits := list(key_formats(_tree(module))))
    }
    assert not found, "key formats built outside infra/keys.py:\n" + _report(found)


@pytest.mark.parametrize(
    ("layer", "may_import"),
    [
        ("core/", ("stepwise.core",)),
        ("infra/", ("stepwise.core", "stepwise.infra")),
    ],
)
def test_the_lower_layers_import_no_domain(layer, may_import):
    found = {
        module: hits
        for module in modules()
        if module.startswith(layer)
        if (
            hits := [
                (line, f"imports {name}")
                for line, name in imported(_tree(module))
                if name.startswith("stepwise") and not name.startswith(may_import)
            ]
        )
    }
    assert not found, f"{layer} imports a layer above it:\n" + _report(found)


def test_no_module_outside_the_api_imports_it():
    found = {
        module: hits
        for module in modules()
        if not module.startswith("api/")
        if (
            hits := [
                (line, f"imports {name}")
                for line, name in imported(_tree(module))
                if name == "stepwise.api" or name.startswith("stepwise.api.")
            ]
        )
    }
    assert not found, "the API imported below it:\n" + _report(found)


def _module_path(name: str) -> str | None:
    """The package file an imported name is (``stepwise.runs.store``: ``runs/store.py``), or
    None for a package or a name inside a module."""
    parts = name.split(".")
    if parts[0] != "stepwise":
        return None
    path = "/".join(parts[1:]) + ".py"
    return path if (PACKAGE / path).is_file() else None


@pytest.mark.parametrize("module", sorted(DATA_ACCESS))
def test_a_data_access_module_imports_no_logic(module):
    """It may use core, infra, models, the typed records and other data-access modules; never
    a service or the API."""
    if not (PACKAGE / module).exists():
        pytest.skip(f"{module} does not exist")
    found = [
        (line, f"imports {name}")
        for line, name in imported(_tree(module))
        if (path := _module_path(name))
        and not path.startswith(("core/", "infra/"))
        and not path.endswith("/models.py")
        and path != "runs/records.py"  # the typed items the data access parses into
        and path not in DATA_ACCESS
    ]
    assert not found, _report({module: found})


@pytest.mark.parametrize("module", sorted(DATA_ACCESS))
def test_every_exception_is_a_domain_module(module):
    """The lists name real places: a domain's folder (the module may not exist yet)."""
    assert module.count("/") <= 1
    assert "/" not in module or module.split("/")[0] in DOMAINS


# -- the checks themselves, on made-up source ---------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import boto3",
        "from botocore.exceptions import ClientError",
        "def f():\n    import boto3.session",
        "from stepwise.infra import aws",
        "from stepwise.infra import dynamo",
        "from stepwise.infra.dynamo import values",
        "aws.client('sqs').send_message()",
    ],
)
def test_the_aws_check_sees(source):
    assert list(aws_calls(ast.parse(source)))


@pytest.mark.parametrize(
    "source",
    [
        "from stepwise.infra import keys, executions",
        "from stepwise.infra.payloads import PayloadStore",
        "client = make.client('sqs')",
    ],
)
def test_the_aws_check_lets_pass(source):
    assert not list(aws_calls(ast.parse(source)))


@pytest.mark.parametrize(
    "source",
    [
        "key = f'ORG#{org_id}#RUNS'",
        "pk = 'ORGS'",
        "pk = f'APIKEY#{h}'",
        "pk = f'IDEMPOTENCY#{org_id}'",
        "pk = prefix + f'{org_id}#RUN#{run_id}'",
        "item = {'PK': pk, 'SK': 'RUN'}",
        "item = {**keys.run(o, r), 'GSI1PK': p, 'GSI1SK': r}",
        "index = 'GSI3'",
        "name = item['GSI1SK']",
        "found = {'PK': raw['PK'], 'SK': raw['SK']}",
        "s3_key = f'{org_id}/{run_id}/args.json'",
        "s3_key = f'{org_id}/{batch_id}/chunk-{n:04d}.json'",
        "counter = f'status:{status}'",
        "counter = f'workflow:{workflow_id}'",
    ],
)
def test_the_key_check_sees(source):
    assert list(key_formats(ast.parse(source)))


@pytest.mark.parametrize(
    "source",
    [
        '"""Runs live under ``ORG#{org}#RUN#{run}``."""',
        "def f():\n    'Reads ``ORG#{org}#WF#{wf}``.'",
        "item = {**keys.run(o, r), 'status': 'queued'}",
        "condition = 'PK = :pk AND SK > :after'",
        "message = f'status {status} is not allowed'",
        "path = 'schema.json'",
        "sort_key = items[-1]['SK']",
    ],
)
def test_the_key_check_lets_pass(source):
    assert not list(key_formats(ast.parse(source)))
