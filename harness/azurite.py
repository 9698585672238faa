"""A private Azurite for a test session: free ports, memory only, no telemetry."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.polling import wait_until

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account, written out so any reader (or scanner) sees at a
# glance that it is the published emulator key, not a secret.
ACCOUNT_AND_KEY = (
    "AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Azurite:
    blob_port: int
    queue_port: int
    table_port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    persistent: bool = False  # data on disk in workdir, kept across stop() and restart()

    @property
    def connection_string(self) -> str:
        base = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;{ACCOUNT_AND_KEY}"
            f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={base}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{ACCOUNT};"
        )

    def stop(self) -> None:
        self.halt()
        if not self.persistent:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server, keeping a persistent one's data for restart()."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> Azurite:
        """The same server again: same ports and, when persistent, the same data."""
        return start_azurite(
            self.workdir if self.persistent else None,
            ports=(self.blob_port, self.queue_port, self.table_port),
        )


def start_azurite(
    persist_in: Path | None = None, *, ports: tuple[int, int, int] | None = None
) -> Azurite:
    """Azurite on free ports (or ``ports``), in memory, or on disk in ``persist_in``."""
    binary = REPO / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise RuntimeError("Azurite is not installed: run scripts/test, which installs it")
    ports = ports or (free_port(), free_port(), free_port())
    workdir = persist_in or Path(tempfile.mkdtemp(prefix="azurite-"))
    storage = ["--location", str(workdir)] if persist_in else ["--inMemoryPersistence"]
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "azurite.log").open("ab")
    process = subprocess.Popen(
        [
            str(binary),
            "--silent",
            "--disableTelemetry",
            *storage,
            "--skipApiVersionCheck",
            "--blobHost", "127.0.0.1", "--blobPort", str(ports[0]),
            "--queueHost", "127.0.0.1", "--queuePort", str(ports[1]),
            "--tableHost", "127.0.0.1", "--tablePort", str(ports[2]),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,  # --location cannot go with --inMemoryPersistence; keep strays here
    )  # fmt: skip
    log.close()  # the child holds its own descriptor; ours would leak (ResourceWarning)
    azurite = Azurite(*ports, process=process, workdir=workdir, persistent=persist_in is not None)
    try:
        wait_until(
            lambda: process.poll() is not None or all(_listening(p) for p in ports),
            timeout=60,
            message="Azurite to listen",
        )
        if process.poll() is not None:
            raise RuntimeError((workdir / "azurite.log").read_text())
    except BaseException:
        azurite.stop()
        raise
    return azurite
