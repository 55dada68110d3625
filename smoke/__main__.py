"""``make smoke``: the checks of ``smoke.checks`` against a stack.

With ``STEPWISE_STACK`` (a deployed stack's name: its ``ApiUrl`` output is read with your AWS
credentials) or ``STEPWISE_API_URL`` set, and ``STEPWISE_ORG`` and ``STEPWISE_API_KEY`` (an org's
key, e.g. from ``python -m stepwise.ops.admin create-key``), it checks that stack; with neither,
it starts the local stack in this process and checks it. Exits non-zero when a check fails, 2
when it is told too little to start.
"""

import os
import sys

from smoke.checks import run_all


class Usage(Exception):
    """What is missing to run the checks."""


def api_url_from_stack(stack_name: str, cloudformation=None) -> str:
    """The ``ApiUrl`` output of a deployed stack."""
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation")
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise Usage(f"stack {stack_name!r} has no ApiUrl output: is it a Stepwise stack?")
    return outputs["ApiUrl"]


def target(environ) -> tuple[str, str, str] | None:
    """(url, org, key) of the deployed stack the environment names, or None for the local one."""
    stack_name, url = environ.get("STEPWISE_STACK"), environ.get("STEPWISE_API_URL")
    if not (stack_name or url):
        return None
    missing = [name for name in ("STEPWISE_ORG", "STEPWISE_API_KEY") if not environ.get(name)]
    if missing:
        raise Usage(f"set {' and '.join(missing)} to check a deployed stack")
    return (
        (url or api_url_from_stack(stack_name)),
        environ["STEPWISE_ORG"],
        environ["STEPWISE_API_KEY"],
    )


def main() -> int:
    try:
        deployed = target(os.environ)
    except Usage as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 2
    if deployed:
        results = run_all(*deployed)
    else:
        from stepwise_local.stack import LocalStack

        with LocalStack() as stack:
            results = run_all(stack.serve_in_background(), stack.org_id, stack.api_key)
            stack.wait_idle(timeout=30)
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'}  {result.name}: {result.detail}")
    failed = [r for r in results if not r.passed]
    print(f"smoke: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
