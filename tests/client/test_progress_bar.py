"""`jobs submit --wait` draws a live bar on a terminal (a real pseudo-terminal here) and none
when its output goes to a pipe, as in CI logs."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time
import uuid
from pathlib import Path

from tests.client.conftest import SCRIPT, Jobs

CONTROL = ("\r", "\x1b[")


def _in_terminal(jobs: Jobs, args: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run ``jobs`` with a pseudo-terminal (100 columns) as its standard streams; returns its
    exit code and everything it wrote to the terminal."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [str(SCRIPT), *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=jobs.cwd,
        env=jobs.env(),
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError as error:  # EIO: the terminal's last writer has gone
                if error.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            seen += chunk
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    return code, seen.decode(errors="replace")


def _items(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"seconds": 0.05}) + "\n" for _ in range(count)))
    return path


def _new_key() -> list[str]:
    return ["--key", str(uuid.uuid4())]  # a new task each run, not a repeat of an earlier one


def test_the_bar_is_drawn_in_place_on_a_terminal(jobs: Jobs) -> None:
    source = _items(jobs.cwd / "bar.ndjson", 60)
    args = ["submit", str(source), "--kind", "sleep", "--wait", *_new_key()]
    code, screen = _in_terminal(jobs, args)

    assert code == 0, screen
    redraws = screen.count("\r\x1b[K[")
    assert redraws >= 2, screen  # drawn, then redrawn over itself
    assert "/60 " in screen
    assert "jobs/s" in screen
    assert "ETA " in screen
    assert "[####################] 60/60 100%" in screen
    assert "completed: 60 completed, 0 failed, 0 cancelled of 60" in screen
    # No bar is wider than the terminal (it would wrap, and the redraws stack up instead).
    bars = [line for line in screen.replace("\r\x1b[K", "\n").splitlines() if "jobs/s" in line]
    assert bars
    assert all(len(line) < 100 for line in bars)


def test_no_bar_and_no_control_codes_when_piped(jobs: Jobs) -> None:
    source = _items(jobs.cwd / "piped.ndjson", 60)

    done = jobs("submit", str(source), "--kind", "sleep", "--wait", *_new_key())

    assert done.returncode == 0, done.stderr
    assert not any(code in done.stdout + done.stderr for code in CONTROL)
    assert "ETA" not in done.stderr
    assert "[#" not in done.stderr
    assert "[-" not in done.stderr
    assert "completed: 60 completed, 0 failed, 0 cancelled of 60" in done.stderr
