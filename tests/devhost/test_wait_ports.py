"""``python -m devhost.wait_ports``: what scripts/serve uses to find a running Azurite."""

from __future__ import annotations

import socket

from devhost.wait_ports import main
from harness.azurite import free_port


def test_exit_zero_when_every_port_listens_and_one_otherwise() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert main(["127.0.0.1", str(port), "--timeout", "0"]) == 0
        closed = free_port()
        assert main(["127.0.0.1", str(port), str(closed), "--timeout", "0"]) == 1
        assert main(["127.0.0.1", str(closed), "--timeout", "0.3"]) == 1
