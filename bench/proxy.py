"""A counting HTTP proxy between the host's processes and Azurite: one port per storage service
on 127.0.0.1, each forwarding to Azurite's, every request counted in a ``Tally`` once its
answer has passed (so a query's rows and a receive's messages are known).

Signatures survive the hop: Shared Key signs the path, not the host and port. The proxy reads
HTTP/1.1 as the SDKs send it (one request at a time per connection, Content-Length or chunked
bodies) and forwards the bytes unchanged.

Run as its own process, so its CPU is neither the host's nor the benchmark's::

    python -m bench.proxy --blob PORT --queue PORT --table PORT

prints ``{"blob": port, "queue": port, "table": port, "control": port}`` on one line, then
serves until SIGTERM; ``GET http://127.0.0.1:<control>/counts`` answers the counts so far."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.tally import SERVICES, Counts, Request, Tally

HOST = "127.0.0.1"
NO_BODY = (204, 304)


@dataclass(frozen=True)
class Head:
    raw: bytes
    first: str  # request or status line
    headers: dict[str, str]  # lower-case names


async def _head(reader: asyncio.StreamReader) -> Head | None:
    """A message's head, None at a clean end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise
        return None
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Head(raw, lines[0], headers)


async def _body(reader: asyncio.StreamReader, head: Head, *, to_eof: bool) -> tuple[bytes, bytes]:
    """The body as sent (to forward) and decoded (to count)."""
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        raw, data = bytearray(), bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    line = await reader.readuntil(b"\r\n")
                    raw += line
                    if line == b"\r\n":
                        return bytes(raw), bytes(data)
            chunk = await reader.readexactly(size + 2)
            raw += chunk
            data += chunk[:-2]
    if "content-length" in head.headers:
        body = await reader.readexactly(int(head.headers["content-length"]))
        return body, body
    if to_eof:
        body = await reader.read()
        return body, body
    return b"", b""


class CountingProxy:
    """Forwards each service's port to Azurite's and counts into ``tally``."""

    def __init__(self, upstream: Mapping[str, int], tally: Tally | None = None) -> None:
        self.upstream = dict(upstream)
        self.tally = tally or Tally()
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []

    async def start(self) -> dict[str, int]:
        for service in SERVICES:
            server = await asyncio.start_server(
                functools.partial(self._connection, service), HOST, 0
            )
            self._servers.append(server)
            self.ports[service] = server.sockets[0].getsockname()[1]
        return self.ports

    async def close(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()

    def connection_string(self, original: str) -> str:
        """``original`` (Azurite's) with every service endpoint moved to this proxy."""
        parts = []
        for part in original.split(";"):
            name, _, value = part.partition("=")
            service = name[: -len("Endpoint")].lower() if name.endswith("Endpoint") else ""
            if service in self.ports:
                account = value.rstrip("/").rsplit("/", 1)[-1]
                value = f"http://{HOST}:{self.ports[service]}/{account}"
            parts.append(f"{name}={value}" if value else part)
        return ";".join(parts)

    async def _connection(
        self, service: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.upstream[service])
        except OSError:
            writer.close()
            return
        sent: deque[Request] = deque()
        tasks = [
            asyncio.create_task(self._requests(service, reader, up_writer, sent)),
            asyncio.create_task(self._answers(up_reader, writer, sent)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the proxy stops: this connection ends with it, which is no error
        finally:  # one side ended (or the proxy stops): end both
            for task in tasks:
                task.cancel()
            for stream in (writer, up_writer):
                stream.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _requests(
        self,
        service: str,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        sent: deque[Request],
    ) -> None:
        while (head := await _head(reader)) is not None:
            raw, body = await _body(reader, head, to_eof=False)
            method, target = head.first.split(" ")[:2]
            sent.append(Request(service, method, target, body if service == "table" else b""))
            upstream.write(head.raw + raw)
            await upstream.drain()

    async def _answers(
        self, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter, sent: deque[Request]
    ) -> None:
        while (head := await _head(upstream)) is not None:
            status = int(head.first.split(" ")[1])
            request = sent[0] if sent else None
            head_only = request is not None and request.method == "HEAD"
            bodiless = status in NO_BODY or status < 200 or head_only
            raw, body = (b"", b"") if bodiless else await _body(upstream, head, to_eof=True)
            writer.write(head.raw + raw)
            await writer.drain()
            if status >= 200 and request is not None:
                sent.popleft()
                self.tally.add(request, status, body)


# -- as a process ----------------------------------------------------------------------------


async def _control(proxy: CountingProxy) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await _head(reader) is not None:
            body = json.dumps(proxy.tally.snapshot().to_json()).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
            await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, HOST, 0)


async def _serve(upstream: dict[str, int]) -> None:
    proxy = CountingProxy(upstream)
    ports = await proxy.start()
    control = await _control(proxy)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({**ports, "control": control.sockets[0].getsockname()[1]}), flush=True)
    await stop.wait()
    control.close()
    await proxy.close()
    # Connections still open end with the loop; their cancellation is not an error.
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class RunningProxy:
    """The proxy process, seen from the benchmark."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    session: requests.Session

    def counts(self) -> Counts:
        url = f"http://{HOST}:{self.ports['control']}/counts"
        return Counts.from_json(self.session.get(url, timeout=30).json())

    def connection_string(self, original: str) -> str:
        proxy = CountingProxy({})
        proxy.ports = {service: self.ports[service] for service in SERVICES}
        return proxy.connection_string(original)

    def stop(self) -> None:
        self.session.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_proxy(upstream: Mapping[str, int]) -> RunningProxy:
    """``python -m bench.proxy`` in front of ``upstream`` (Azurite's port per service)."""
    repo = Path(__file__).resolve().parents[1]
    args = [f"--{service}={upstream[service]}" for service in SERVICES]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.proxy", *args],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError(f"the counting proxy exited with {process.returncode}")
    return RunningProxy(process, json.loads(line), requests.Session())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__)
    for service in SERVICES:
        parser.add_argument(f"--{service}", type=int, required=True, help="Azurite's port")
    args = parser.parse_args(argv)
    asyncio.run(_serve({service: getattr(args, service) for service in SERVICES}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
