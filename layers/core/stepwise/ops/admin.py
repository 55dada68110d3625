"""Operator commands against a deployed table: ``python -m stepwise.ops.admin create-key ...``.

The API only accepts keys stored in the table, so the first key of an org is made here, with the
operator's own AWS credentials. The key is printed once and stored only as its hash.
"""

import argparse
import re
import sys

from stepwise.access.api_keys import ApiKeys, Scope

ORG_PATTERN = r"^[a-z0-9_.-]{1,64}$"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepwise.ops.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for an org")
    create.add_argument("--table", required=True, help="the stack's TableName output")
    create.add_argument("--org", required=True, help="org id (lowercase, digits, _ . -)")
    create.add_argument("--name", default="admin", help="a label for the key")
    args = parser.parse_args(argv)

    if not re.fullmatch(ORG_PATTERN, args.org):
        parser.error(f"--org must match {ORG_PATTERN}")
    _, key = ApiKeys(args.table).create(args.org, args.name, [Scope.ADMIN], "admin-cli")
    print(f"org {args.org}: admin API key (shown once, store it now): {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
