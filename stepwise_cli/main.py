"""``stepwise``: the command line, its options and its exit codes (docs/cli.md)."""

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from stepwise_cli import __version__, runs, workflows
from stepwise_cli.client import ApiError, Client, Unreachable
from stepwise_cli.config import ConfigError, resolve
from stepwise_cli.context import Context, Failure
from stepwise_cli.errors import Exit, describe
from stepwise_cli.render import Style, _isatty

EPILOG = """\
configuration: STEPWISE_URL, STEPWISE_ORG, STEPWISE_API_KEY, or a profile in
~/.config/stepwise/config.toml (--profile, STEPWISE_PROFILE; the file must be chmod 600).
exit codes: 0 ok; 1 the run failed, timed out or was cancelled (--wait, --watch);
2 usage error; 3 the API answered with an error; 4 the API could not be reached.
"""


class Parser(argparse.ArgumentParser):
    """argparse, writing its usage errors to the CLI's own stderr (exit 2)."""

    err: TextIO = sys.stderr

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            (self.err if file is sys.stderr else (file or self.err)).write(message)


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    common.add_argument("--profile", default=argparse.SUPPRESS, help="a profile of the config file")
    common.add_argument(
        "--url", default=argparse.SUPPRESS, help="the API's base URL (STEPWISE_URL)"
    )
    common.add_argument("--org", default=argparse.SUPPRESS, help="the org (STEPWISE_ORG)")
    common.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log each request and answer status on stderr (never the key)",
    )
    return common


def build_parser(err: TextIO = sys.stderr) -> argparse.ArgumentParser:
    common = _common()
    Parser.err = err

    def sub(group: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help_text, description=help_text, parents=[common])

    parser = Parser(
        prog="stepwise",
        description="Stepwise's API from a terminal: workflows, runs, approvals.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"stepwise {__version__}")
    top = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    wf = sub(top, "workflows", "define and read workflows").add_subparsers(
        dest="command", required=True, metavar="SUBCOMMAND"
    )
    p = sub(
        wf,
        "apply",
        "create a workflow from a JSON or YAML file, or add a version to the "
        "workflow of the same name (or id)",
    )
    p.add_argument("file", help="a .json, .yaml or .yml file; - reads standard input")
    p.add_argument("--id", help="the workflow to add a version to (default: found by name)")
    p = sub(wf, "list", "the org's workflows, newest first")
    p.add_argument("--limit", type=_positive, default=100)
    p = sub(wf, "get", "a workflow and its graph")
    p.add_argument("workflow", help="id (wf_…) or name")
    p.add_argument("--version", type=_positive, dest="workflow_version")

    rs = sub(top, "runs", "start, find, follow and act on runs").add_subparsers(
        dest="command", required=True, metavar="SUBCOMMAND"
    )
    p = sub(rs, "start", "start a run")
    p.add_argument("workflow", help="id (wf_…) or name")
    _input(p)
    _wait(p)
    _idempotency(p, "starts no second run")
    p = sub(rs, "list", "runs, newest first")
    p.add_argument(
        "--status", choices=["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
    )
    p.add_argument("--workflow", help="id (wf_…) or name")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="repeat for every tag")
    p.add_argument("--batch")
    p.add_argument("--parent", help="child runs of this run")
    p.add_argument("--created-after", metavar="TIME", help="ISO 8601")
    p.add_argument("--created-before", metavar="TIME", help="ISO 8601")
    p.add_argument("--limit", type=_positive, default=20)
    sub(rs, "get", "a run, its nodes and its graph").add_argument("run")
    p = sub(rs, "graph", "the run's graph with each node's status")
    p.add_argument("run")
    p.add_argument(
        "--watch",
        action="store_true",
        help="redraw until the run ends (exit 0 when it succeeds, else 1)",
    )
    p = sub(rs, "logs", "the run's log lines")
    p.add_argument("run")
    p.add_argument("--follow", "-f", action="store_true", help="until the run ends")
    p = sub(rs, "history", "the run's typed events")
    p.add_argument("run")
    p.add_argument("--limit", type=_positive)
    p = sub(rs, "cancel", "cancel a run")
    p.add_argument("run")
    p.add_argument("--reason")
    _wait(p)
    p = sub(rs, "redrive", "resume a failed, timed-out or cancelled run from where it stopped")
    p.add_argument("run")
    _input(p, "replaces the run input for the nodes that run again")
    p.add_argument("--workflow-version", type=_positive)
    p.add_argument("--reason")
    _wait(p)
    _idempotency(p, "redrives once")
    p = sub(
        rs,
        "rerun",
        "a new run that keeps the outputs upstream of a node, and runs it and everything after it",
    )
    p.add_argument("run")
    p.add_argument("--from", dest="from_ref", required=True, metavar="REF")
    _input(p)
    p.add_argument("--workflow-version", type=_positive)
    _wait(p)
    _idempotency(p, "starts no second rerun")
    sub(rs, "pause", "let running nodes finish and start nothing new").add_argument("run")
    p = sub(rs, "resume", "continue a paused run")
    p.add_argument("run")
    _wait(p)

    p = sub(top, "approve", "approve (or --reject) an approval node that waits for a review")
    p.add_argument("run")
    p.add_argument("node", help="the approval node's ref")
    p.add_argument("--reject", action="store_true")
    p.add_argument("--comment")
    return parser


def _input(parser: argparse.ArgumentParser, note: str = "the run input") -> None:
    parser.add_argument(
        "--input",
        metavar="JSON|@FILE",
        help=f"{note}: inline JSON, or @file (JSON or YAML; @- is stdin)",
    )


def _wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="follow the run to its end (exit 0 when it succeeds, else 1)",
    )


def _idempotency(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--idempotency-key", help=f"a retry with the same key {what}")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return number


def dispatch(ctx: Context, args: argparse.Namespace) -> int:
    match (args.group, getattr(args, "command", None)):
        case ("workflows", "apply"):
            return workflows.apply(ctx, args.file, args.id)
        case ("workflows", "list"):
            return workflows.list_(ctx, args.limit)
        case ("workflows", "get"):
            return workflows.get(ctx, args.workflow, args.workflow_version)
        case ("runs", "start"):
            return runs.start(ctx, args.workflow, args.input, args.wait, args.idempotency_key)
        case ("runs", "list"):
            return runs.list_(ctx, args)
        case ("runs", "get"):
            return runs.get(ctx, args.run)
        case ("runs", "graph"):
            return runs.graph_(ctx, args.run, args.watch)
        case ("runs", "logs"):
            return runs.logs(ctx, args.run, args.follow)
        case ("runs", "history"):
            return runs.history(ctx, args.run, args.limit)
        case ("runs", "cancel"):
            return runs.act(ctx, args.run, "cancel", {"reason": args.reason}, args.wait)
        case ("runs", "redrive"):
            return runs.redrive(ctx, args)
        case ("runs", "rerun"):
            return runs.rerun(ctx, args)
        case ("runs", "pause"):
            return runs.act(ctx, args.run, "pause", None, False)
        case ("runs", "resume"):
            return runs.act(ctx, args.run, "resume", None, args.wait)
        case ("approve", _):
            return runs.approve(ctx, args.run, args.node, args.reject, args.comment)
    raise Failure(f"unknown command {args.group} {getattr(args, 'command', '')}")


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    interval: float = 0.5,
) -> int:
    """Runs one command; its exit code. Never a traceback: every failure is a message."""
    out = out or sys.stdout
    err = err or sys.stderr
    env = dict(os.environ) if env is None else env
    parser = build_parser(err)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version (0) and usage errors (2)
        return int(exc.code or 0)
    settings = None
    try:
        settings = resolve(
            env,
            getattr(args, "profile", None),
            getattr(args, "url", None),
            getattr(args, "org", None),
        )
        if not settings.url.startswith(("http://", "https://")):
            raise ConfigError(f"the API URL must start with http:// or https://: {settings.url}")
        ctx = Context(
            client=Client(settings, err, verbose=getattr(args, "verbose", False)),
            out=out,
            err=err,
            env=env,
            json=getattr(args, "json", False),
            style=Style.for_stream(out, env),
            live=_isatty(out),
            interval=interval,
        )
        return int(dispatch(ctx, args))
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return Exit.USAGE
    except Failure as exc:
        print(f"error: {exc}", file=err)
        return exc.code
    except ApiError as exc:
        print("\n".join(describe(exc, settings.url if settings else "")), file=err)
        return Exit.API_ERROR
    except Unreachable as exc:
        print(f"error: {exc}", file=err)
        return Exit.UNREACHABLE
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except BrokenPipeError:  # `stepwise runs list | head`: the reader has all it wanted
        if out is sys.stdout:  # nothing left to flush at exit, so no second error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OK
