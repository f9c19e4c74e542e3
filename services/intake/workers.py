"""Extra MLLP listener processes on the same port (SO_REUSEPORT), so one busy feed can use every core."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import structlog
import uvloop

from services.runtime.clock import SystemClock
from services.runtime.db import create_pool
from services.runtime.heap import freeze_start_up
from services.runtime.logs import configure_logging
from services.runtime.loops import Backoff, run_loop

from .feeds import feed_config, receiver
from .mllp import MllpServer, server_ssl_context
from .receiver import Receiver
from .settings import IntakeSettings

log = structlog.get_logger("intake.workers")


def mllp_server(settings: IntakeSettings, receiver: Receiver, port: int | None = None) -> MllpServer:
    """The MLLP listener as configured; shares its port with the other workers when there are several."""
    async def oversized(head: bytes, size: int) -> bytes | None:
        return await receiver.handle_oversized(head, size, settings.mllp_max_bytes)

    return MllpServer(receiver.handle_frame, on_oversized=oversized, host=settings.mllp_host or settings.host,
                      port=settings.mllp_port if port is None else port, max_bytes=settings.mllp_max_bytes,
                      idle_seconds=settings.mllp_idle_seconds, frame_seconds=settings.mllp_frame_seconds,
                      max_connections=settings.mllp_max_connections, reuse_port=settings.mllp_workers > 1,
                      ssl_context=server_ssl_context(settings.mllp_tls_cert, settings.mllp_tls_key,
                                                     settings.mllp_tls_client_ca))


class WorkerProcesses:
    """Starts the extra listener processes, restarts any that die, and stops them with the service."""

    def __init__(self, count: int, port: int):
        self.count = count
        self.port = port
        self.procs: list[subprocess.Popen] = []
        self._monitor: asyncio.Task | None = None

    def _spawn(self) -> subprocess.Popen:
        # The worker must bind the port the main listener actually got (it may have asked for port 0).
        env = {**os.environ, "INTAKE_MLLP_PORT": str(self.port)}
        return subprocess.Popen([sys.executable, "-m", "services.intake.workers"], env=env, stdout=subprocess.PIPE)

    async def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        # The service reports ready only once every worker listens, so no connection waits on a cold one.
        for proc in self.procs:
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=60)
            if line.strip() != b"listening":
                raise RuntimeError("an MLLP worker process failed to start")
        self._monitor = asyncio.create_task(self._watch(), name="intake-mllp-workers")

    async def _watch(self) -> None:
        """Look every second for a worker that died, and start another in its place."""
        await run_loop(self._restart_dead, name="workers", log=log, failed="mllp_worker_restart_failed", every=1.0,
                       backoff=Backoff(first=1.0, factor=2.0, cap=10.0))

    async def _restart_dead(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log.error("mllp_worker_restarted", state=str(proc.returncode))
                self.procs[i] = self._spawn()

    async def stop(self) -> None:
        if self._monitor:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()


async def serve_worker(settings: IntakeSettings) -> None:
    """One extra listener: its own pool and receiver; the main process's relay publishes what it stores."""
    pool = await create_pool(settings.database_url, "intake", min_size=1, max_size=settings.db_pool_max)
    hl7 = receiver(settings, pool, feed_config(settings), SystemClock())
    server = mllp_server(settings, hl7)
    await server.start()
    freeze_start_up()
    print("listening", flush=True)  # the parent waits for this line
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    await hl7.close()
    await pool.close()


if __name__ == "__main__":
    worker_settings = IntakeSettings()
    configure_logging("intake", worker_settings.log_level, repeat_seconds=worker_settings.log_repeat_seconds)
    uvloop.run(serve_worker(worker_settings))
