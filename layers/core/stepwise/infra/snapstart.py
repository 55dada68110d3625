"""Lambda SnapStart for the API function: what goes into its snapshot, and what each execution
environment restored from it must make its own again (docs/cost.md#snapstart-on-the-api).

Every environment resumes from one snapshot, so nothing in it may be unique per environment:
the ``random`` module's state (the DynamoDB retry jitter would be the same everywhere), and
boto3 clients with the credentials and connections they held. Before the snapshot, the work a
cold request would otherwise do (every route built, boto3 and its service models loaded) is done
once, at publish time.
"""

import gc
import os
import random
from collections.abc import Callable

from stepwise.infra import aws

# The AWS services the API calls: their models are read from disk once, before the snapshot.
API_SERVICES = ("dynamodb", "stepfunctions", "sqs", "secretsmanager", "events", "s3", "scheduler")


def register(warm: Callable[[], None]) -> bool:
    """Registers the hooks with Lambda's runtime; False where no snapshot is ever taken (no
    ``snapshot_restore_py``: not Lambda's Python runtime). A SnapStart init without it fails."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            raise
        return False
    register_before_snapshot(before_snapshot, warm)
    register_after_restore(after_restore)
    return True


def before_snapshot(warm: Callable[[], None]) -> None:
    """Paid once, when Lambda publishes the version, instead of on every cold request."""
    warm()
    # No client, connection or credentials may be in the snapshot: a fresh session, which
    # resolves none until a client is made after the restore, holds only the models.
    aws.clear(session=True)
    aws.load_models(API_SERVICES)
    gc.collect()
    gc.freeze()


def after_restore() -> None:
    """Runs in each restored environment before its first request."""
    random.seed()  # from os.urandom: each environment its own jitter
    aws.clear()  # clients made in this environment, with its credentials
