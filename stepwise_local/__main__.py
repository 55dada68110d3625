"""``python -m stepwise_local``: start the local stack and serve the API until Ctrl-C."""

import os
import sys

from stepwise_local.faults import FaultsError
from stepwise_local.stack import DEFAULT_API_KEY, DEFAULT_ORG, LocalStack

BANNER = """
Stepwise local stack is up (moto, in-process; no Docker, no AWS account).

  API      {url}
  console  {url}/console  (sign in with the org and key below)
  org      {org}
  API key  {key}

Point the stepwise command at it (in another terminal, from this checkout):
  export STEPWISE_URL={url} STEPWISE_ORG={org} STEPWISE_API_KEY={key}
  .venv/bin/stepwise runs list

Try it:
  curl -s {url}/v1/orgs/{org}/runs -H "Authorization: Bearer {key}"

Schedules fire on this machine's clock; lifecycle events: curl -s {url}/local/lifecycle-events
Injected faults (STEPWISE_FAULTS): {faults}; counts: curl -s {url}/local/faults

The README walks through a whole workflow. Ctrl-C stops the stack (its state is in memory only).
"""


def main() -> int:
    host = "127.0.0.1"
    port = int(os.environ.get("STEPWISE_PORT", "3000"))
    org = os.environ.get("STEPWISE_ORG", DEFAULT_ORG)
    key = os.environ.get("STEPWISE_API_KEY", DEFAULT_API_KEY)
    try:
        stack = LocalStack(org_id=org, api_key=key)
    except FaultsError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    stack.start()
    try:
        url = f"http://{host}:{port}"
        injected = os.environ.get("STEPWISE_FAULTS") or "none"
        print(BANNER.format(url=url, org=org, key=key, faults=injected), flush=True)
        stack.serve(host=host, port=port)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("Stepwise local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
