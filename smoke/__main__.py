"""``make smoke``: the checks of ``smoke.checks`` against a stack.

With ``STEPWISE_API_URL`` set (a deployed stack's ``ApiUrl`` output), ``STEPWISE_ORG`` and
``STEPWISE_API_KEY`` (an org's key, e.g. from ``python -m stepwise.ops.admin create-key``),
it checks that stack; without, it starts the local stack in this process and checks it.
Exits non-zero when a check fails.
"""

import os
import sys

from smoke.checks import run_all


def main() -> int:
    url = os.environ.get("STEPWISE_API_URL")
    if url:
        org, key = os.environ["STEPWISE_ORG"], os.environ["STEPWISE_API_KEY"]
        results = run_all(url, org, key)
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
