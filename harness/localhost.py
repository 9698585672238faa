"""Starting the local Functions host (``python -m devhost``) as a real process for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from harness.azurite import REPO, free_port
from harness.polling import wait_until


@dataclass
class RunningHost:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/api"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the host and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def ready(self) -> bool:
        try:
            response = requests.get(f"{self.base_url}/admin/host/status", timeout=1)
        except requests.RequestException:
            return False
        return response.status_code == 200 and response.json().get("state") == "Running"


def start_devhost(
    app_dir: Path,
    env: Mapping[str, str],
    *,
    args: Sequence[str] = (),
    port: int | None = None,
    wait: bool = True,
    timeout: float = 60,
    lease: int | None = None,
) -> RunningHost:
    """Run ``python -m devhost`` in ``app_dir`` with ``env`` added to this process's environment.

    With ``wait`` it returns once the host reports Running, and fails with the host's log if
    the process exits first. ``lease``: seconds a taken message stays hidden, instead of ten
    minutes (``harness.short_lease``), for tests that kill hosts.
    """
    port = port or free_port()
    module = ["devhost"] if lease is None else ["harness.short_lease", str(lease)]
    log_fd, log_name = tempfile.mkstemp(prefix="devhost-", suffix=".log")
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", *module, "--port", str(port), *args],
        cwd=app_dir,
        env=full_env,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
    )
    os.close(log_fd)
    host = RunningHost(process=process, port=port, log_path=Path(log_name))
    if wait:
        try:
            wait_until(
                lambda: process.poll() is not None or host.ready(),
                timeout=timeout,
                message="the local host to report Running",
            )
        except BaseException:
            host.kill()
            raise
        if process.poll() is not None:
            raise RuntimeError(f"devhost exited with {process.returncode}:\n{host.logs()}")
    return host
