"""Command line of ``python -m devhost``: read settings, then run the host until a signal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devhost.config import ConfigError, development_defaults, load_local_settings
from devhost.host import GROUPS, Host, HostOptions
from devhost.logs import configure_logging


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devhost", description="Local stand-in for the Azure Functions host."
    )
    parser.add_argument("--port", type=int, default=7071, help="HTTP port on 127.0.0.1")
    parser.add_argument(
        "--app",
        default=None,
        help="the app's module file (default: PYTHON_SCRIPT_FILE_NAME, else function_app.py)",
    )
    parser.add_argument(
        "--check-keys",
        action="store_true",
        help="require function/admin keys (off like Core Tools)",
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=30.0,
        help="seconds running invocations get to finish on SIGINT/SIGTERM",
    )
    parser.add_argument(
        "--group",
        choices=GROUPS,
        default=None,
        help="run only the HTTP-triggered functions (http) or only the others (background), "
        "as Flex Consumption runs its http group on instances of its own; default: all",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    app_dir = Path.cwd()
    try:
        load_local_settings(app_dir, os.environ)
    except ConfigError as exc:
        logging.getLogger("devhost").error("%s", exc)
        return 1
    development_defaults(os.environ)
    # The worker's loader reads PYTHON_SCRIPT_FILE_NAME (default function_app.py).
    script = args.app or os.environ.get("PYTHON_SCRIPT_FILE_NAME") or "function_app.py"
    app_path = (app_dir / script).resolve()
    if not app_path.exists():
        print(f"devhost: {app_path} does not exist", file=sys.stderr)
        return 1
    options = HostOptions(
        app_dir=app_dir,
        app_path=app_path,
        port=args.port,
        check_keys=args.check_keys,
        grace_period=args.grace_period,
        group=args.group,
    )
    return asyncio.run(Host(options).run())
