"""The host process: start the worker, index, serve HTTP, run listeners, shut down cleanly.

Start-up is partial, as the host's (``AllowPartialHostStartup``): functions that fail to index
are logged and left out (devhost/indexing.py), and when the worker cannot index the app at all
the host runs with no functions, logging "Worker failed to index functions" and why
(Azure/azure-functions-host ``src/WebJobs.Script.Grpc/Channel/GrpcWorkerChannel.cs``). Only a
bad host configuration (host.json, functionTimeout) stops the start.

``--group`` splits an app the way Flex Consumption's per-function scaling does: its HTTP
triggers share one group of instances, and every other function scales on instances apart from
them. ``http`` runs only the HTTP-triggered functions, ``background`` only the others (queues,
timers); two hosts, one of each, on the same storage, run the whole app with the API in
processes of its own. The functions left to the other host are named in one log line.

``/admin/host/status`` says Running only once every listener has started. SIGINT/SIGTERM stop
the listeners from receiving, give running invocations the grace period, then exit 0;
anything still running after that is abandoned (its queue messages come back). An unhandled
listener error (a non-transient storage error, a lost singleton lease) shuts the host down
with exit code 1, as ``WebScriptHostExceptionHandler.OnUnhandledExceptionAsync`` stops the
application; in Azure the platform then starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from devhost import logs
from devhost.config import (
    ConfigError,
    HostConfig,
    cpu_count,
    load_connection_strings,
    load_host_json,
)
from devhost.http_server import HttpHost, HttpRoute, Keys
from devhost.indexing import FunctionSpec, index_functions
from devhost.invoker import Invoker, process_count
from devhost.outputs import QueueOutputs
from devhost.queue_listener import QueueListener, QueueWatcher
from devhost.timers import time_zone

GROUPS = ("http", "background")
CLOSE_TIMEOUT = 5.0  # seconds for each shutdown step that may talk to storage


class Listener(Protocol):
    def start(self) -> None: ...
    def stop_receiving(self) -> None: ...
    async def wait_idle(self) -> None: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class HostOptions:
    app_dir: Path
    app_path: Path
    port: int
    check_keys: bool
    grace_period: float
    group: str | None = None  # one of GROUPS, or None for every function


class Host:
    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.state = "Initializing"
        self.exit_code = 0
        self._stop = asyncio.Event()
        self._closables: list[Any] = []

    def fatal(self, exc: BaseException) -> None:
        """An unhandled listener error: the host shuts down (unless it already is)."""
        if self._stop.is_set():
            return
        logs.HOST.critical(
            "An unhandled exception has occurred. Host is shutting down.\n%s",
            "".join(traceback.format_exception(exc)).rstrip(),
        )
        self.exit_code = 1
        self._stop.set()

    def _disable(self, spec: FunctionSpec, exc: Exception) -> None:
        logs.HOST.error("Error indexing method 'Functions.%s'\n%s", spec.name, exc)
        logs.HOST.warning(
            "Function 'Functions.%s' failed indexing and will be disabled.", spec.name
        )

    def _listeners(
        self,
        specs: list[FunctionSpec],
        config: HostConfig,
        invoker: Invoker,
        settings: dict[str, str],
        watcher: QueueWatcher,
    ) -> tuple[list[Listener], list[FunctionSpec]]:
        listeners: list[Listener] = []
        running = [s for s in specs if s.trigger_type == "httpTrigger"]
        timers = [s for s in specs if s.trigger_type == "timerTrigger"]
        if timers:
            from devhost.timers import timer_listeners

            try:
                made, blobs = timer_listeners(
                    timers, invoker, self.options.app_dir, settings, config.singleton, self.fatal
                )
            except (ConfigError, ValueError) as exc:
                for spec in timers:
                    self._disable(spec, exc)
            else:
                listeners.extend(made)
                running.extend(timers)
                self._closables.append(blobs)
        for spec in specs:
            if spec.trigger_type != "queueTrigger":
                continue
            try:
                listeners.append(QueueListener(spec, config.queues, invoker, self.fatal, watcher))
            except ValueError as exc:  # e.g. a connection string the SDK cannot read
                self._disable(spec, exc)
                continue
            running.append(spec)
        return listeners, sorted(running, key=lambda s: s.name.lower())

    def _in_group(self, specs: list[FunctionSpec]) -> list[FunctionSpec]:
        """The functions of ``--group`` (all without it); the others are named in one line."""
        group = self.options.group
        if group is None:
            return specs
        kept = [s for s in specs if (s.trigger_type == "httpTrigger") == (group == "http")]
        left = sorted(s.name for s in specs if s not in kept)
        if left:
            logs.HOST.info("Group '%s': left to the other group's host: %s", group, ", ".join(left))
        return kept

    def _print_functions(self, http: HttpHost, specs: list[FunctionSpec]) -> None:
        lines = ["Functions:"]
        routes = {r.function.name: r for r in http.routes}
        for spec in specs:
            route: HttpRoute | None = routes.get(spec.name)
            if route is None:
                lines.append(f"\t{spec.name}: {spec.trigger_type}")
                continue
            methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
            prefix = f"/{http.prefix}" if http.prefix else ""
            url = f"http://127.0.0.1:{self.options.port}{prefix}/{route.template.template}"
            lines.append(f"\t{spec.name}: [{methods}] {url}")
        logs.HOST.info("%s", "\n".join(lines))

    async def run(self) -> int:
        try:
            host_json = load_host_json(self.options.app_dir, os.environ)
            config = HostConfig.load(host_json, os.environ, cpu_count())
        except ConfigError as exc:
            logs.HOST.error("%s", exc)
            return 1
        settings = {**load_connection_strings(self.options.app_dir), **os.environ}
        try:
            processes = process_count(os.environ)
        except ValueError as exc:
            logs.HOST.error("FUNCTIONS_WORKER_PROCESS_COUNT: %s", exc)
            return 1
        invoker = Invoker(self.options.app_path, config.function_timeout, processes)
        indexed = await invoker.start()
        if indexed.error:
            logs.HOST.error("Worker failed to index functions\n%s", indexed.error.rstrip())
        zone = time_zone(settings)
        index = index_functions(indexed.functions, settings, zone, datetime.now(zone))
        enabled = []
        for spec in index.functions:
            if spec.disabled:
                logs.HOST.info("Function '%s' is disabled", spec.name)
            else:
                enabled.append(spec)
        enabled = self._in_group(enabled)
        invoker.retry_policies = {s.name: s.retry for s in enabled if s.retry is not None}
        watcher = QueueWatcher()
        outputs = QueueOutputs(enabled, config.queues.message_encoding, watcher)
        invoker.write_outputs = outputs
        self._closables.append(outputs)
        listeners, specs = self._listeners(enabled, config, invoker, settings, watcher)
        if not specs:
            logs.HOST.warning("No job functions found.")
        keys = None
        if self.options.check_keys:
            master = os.environ.get("DEVHOST_MASTER_KEY") or secrets.token_urlsafe(24)
            if not os.environ.get("DEVHOST_MASTER_KEY"):
                logs.HOST.info(
                    "Master key (generated, set DEVHOST_MASTER_KEY to fix it): %s", master
                )
            keys = Keys.from_environ(os.environ, master)
        no_home = settings.get("AzureWebJobsDisableHomepage", "").lower() == "true"
        http = HttpHost(config.route_prefix, specs, invoker, keys, lambda: self.state, no_home)
        runner = web.AppRunner(http.application(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self.options.port).start()
        except OSError as exc:
            logs.HOST.error("Cannot listen on 127.0.0.1:%s: %s", self.options.port, exc)
            await runner.cleanup()
            await invoker.close()
            return 1
        self._print_functions(http, specs)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        for listener in listeners:
            listener.start()
        self.state = "Running"
        logs.HOST.info("Host started; listening on http://127.0.0.1:%s", self.options.port)
        await self._stop.wait()
        await self._shutdown(listeners, invoker, runner)
        return self.exit_code

    async def _shutdown(
        self, listeners: list[Listener], invoker: Invoker, runner: web.AppRunner
    ) -> None:
        self.state = "Stopping"
        logs.HOST.info("Stopping the host; running invocations get %ss", self.options.grace_period)
        invoker.stop_retries()
        deadline = time.monotonic() + self.options.grace_period
        for listener in listeners:
            listener.stop_receiving()
        waits = [asyncio.ensure_future(listener.wait_idle()) for listener in listeners]
        if waits:
            await asyncio.wait(waits, timeout=max(0.0, deadline - time.monotonic()))
        for waiter in waits:
            waiter.cancel()
        await invoker.wait_idle(max(0.0, deadline - time.monotonic()))
        # Closing talks to storage (lease releases, client shutdown). Storage may be gone
        # already (Ctrl-C reaches Azurite too), and the SDK's retries would hold the exit for
        # minutes, so every step gets a short bound of its own.
        for listener in listeners:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.close(), CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner.cleanup(), CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(invoker.close(), CLOSE_TIMEOUT)
        for closable in self._closables:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closable.close(), CLOSE_TIMEOUT)
        logs.HOST.info("Host stopped")
