"""``python -m devhost.wait_ports HOST PORT... [--timeout S]``: wait until every port accepts
connections, so scripts can start Azurite only when it is not already running.

Exits 0 when all ports accept within the timeout, 1 otherwise; ``--timeout 0`` checks once.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Sequence


def accepting(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_ports(host: str, ports: Sequence[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while True:
        pending = [p for p in pending if not accepting(host, p)]
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.wait_ports")
    parser.add_argument("host")
    parser.add_argument("ports", nargs="+", type=int)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    return 0 if wait_ports(args.host, args.ports, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
