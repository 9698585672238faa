"""The ``jobs`` command: arguments, and what each failure means as an exit code."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence

from jobs_client import commands, output
from jobs_client.client import DEFAULT_URL, Client
from jobs_client.commands import UNREACHABLE, USAGE, UsageError
from jobs_client.errors import ApiError, ClientError, Unreachable
from jobs_client.items import InputError

Command = Callable[[Client, argparse.Namespace], int]

EXIT_CODES = """exit codes:
  0  done; for submit --wait, watch and status: the task completed (or is running)
  1  the task completed with failures, or was cancelled
  2  usage or input errors, and errors the service names (bad items, unknown task, ...)
  3  the service is unreachable or unavailable"""


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `jobs results ID | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    command: Command = args.run
    try:
        with Client(
            getattr(args, "url", None),
            key=getattr(args, "function_key", None),
            timeout=getattr(args, "timeout", 30.0),
            retries=getattr(args, "retries", 4),
        ) as client:
            return command(client, args)
    except (UsageError, InputError) as error:
        output.message(str(error), sys.stderr, as_json=as_json)
        return USAGE
    except ApiError as error:
        output.api_error(error, sys.stderr, as_json=as_json)
        return USAGE if error.status < 500 else UNREACHABLE
    except Unreachable as error:
        output.message(f"the service did not answer: {error}", sys.stderr, as_json=as_json)
        return UNREACHABLE
    except ClientError as error:
        output.message(str(error), sys.stderr, as_json=as_json)
        return USAGE
    except OSError as error:
        output.message(f"{error.filename or ''}: {error.strerror or error}", sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    # The shared options are accepted before and after the command (`jobs --json status ID`
    # and `jobs status ID --json`); unset, they are absent and the defaults apply.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--url", help=f"the API's base URL (default: $JOBS_URL, else {DEFAULT_URL})"
    )
    common.add_argument(
        "--function-key", metavar="KEY", help="the function key (default: $JOBS_KEY)"
    )
    common.add_argument("--json", action="store_true", help="print JSON documents")
    common.add_argument("--timeout", type=float, metavar="S", help="seconds per request (30)")
    common.add_argument(
        "--retries", type=int, metavar="N", help="repeats of a call that is safe to repeat (4)"
    )

    parser = argparse.ArgumentParser(
        prog="jobs",
        parents=[common],
        description="Submit batches to the job service, follow them, and fetch their results.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(metavar="COMMAND", required=True)

    def command(name: str, run: Command, summary: str) -> argparse.ArgumentParser:
        found = sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        found.set_defaults(run=run)
        return found

    submit = command("submit", commands.submit, "submit a batch: one job per item")
    submit.add_argument("items", metavar="ITEMS", help="a JSON array file, NDJSON file, or -")
    submit.add_argument("--kind", required=True, help="the job kind, e.g. echo")
    submit.add_argument("--queue", help="a queue other than the kind's own")
    submit.add_argument(
        "--key",
        help="the Idempotency-Key (default: a hash of kind, queue, metadata and items, so the "
        "same command run again finds the same task instead of submitting twice)",
    )
    submit.add_argument(
        "--metadata",
        metavar="JSON",
        help="a JSON object sent as the task's metadata; sent only when given, and a service "
        "that does not support metadata answers 422 (exit 2)",
    )
    submit.add_argument(
        "--then",
        metavar="JSON",
        help='the next stage, submitted when this task ends: {"kind", "over": "each" | "all", '
        '"when"?: "completed" | "finished", "queue"?, "then"?}',
    )
    submit.add_argument(
        "--priority",
        choices=("high", "normal", "low"),
        help="high work is taken before normal, normal before low (default: normal; sent "
        "only when given)",
    )
    submit.add_argument("--wait", action="store_true", help="follow the task until it ends")
    submit.add_argument("-o", "--output", metavar="FILE", help="with --wait: write the results")
    _interval(submit)

    watch = command("watch", commands.watch, "follow a task until it ends")
    watch.add_argument("task_id", metavar="ID")
    _interval(watch)

    command("status", commands.status, "a task's status and counts").add_argument(
        "task_id", metavar="ID"
    )
    listing = command("list", commands.list_tasks, "list tasks")
    listing.add_argument("--state", help="running, completed, completed_with_failures, cancelled")
    listing.add_argument("--kind", help="only tasks of this kind")
    listing.add_argument("--limit", type=int, help="at most this many tasks")
    command("kinds", commands.kinds, "the job kinds and their limits")
    command("failed", commands.failed, "a task's failed jobs and their errors").add_argument(
        "task_id", metavar="ID"
    )
    command("retry", commands.retry, "send a task's failed jobs round again").add_argument(
        "task_id", metavar="ID"
    )
    command("cancel", commands.cancel, "cancel a task's jobs not yet started").add_argument(
        "task_id", metavar="ID"
    )
    results = command("results", commands.results, "a finished task's results (NDJSON)")
    results.add_argument("task_id", metavar="ID")
    results.add_argument("-o", "--output", metavar="FILE", help="write them here, not stdout")
    return parser


def _interval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval", type=float, default=0.5, metavar="S", help="seconds between polls (0.5)"
    )


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
