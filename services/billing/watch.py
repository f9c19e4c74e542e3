"""The drop folder: clearinghouses that deliver by SFTP leave 999, 277CA and 835 files in a directory; each is
applied as if uploaded, then moved to processed/ (or failed/, with a .problems.txt saying why)."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import structlog

from services.runtime.loops import Backoff, run_loop

from .domain.x12read import RefusedFile
from .inbound import keep_refused, receive

log = structlog.get_logger("billing.watch")


class DropFolder:
    """Polls a directory; a file still being written (changed in the last `settle_seconds`) waits a round."""

    def __init__(self, directory: Path, new_uow, *, poll_seconds: float = 5.0, settle_seconds: float = 2.0,
                 structural: bool = False):
        self.directory = directory
        self.new_uow = new_uow
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.structural = structural
        for sub in ("processed", "failed"):
            (directory / sub).mkdir(parents=True, exist_ok=True)

    def ready(self) -> list[Path]:
        # The file system's own clock, not the service's: this asks whether the writer has finished.
        quiet_since = time.time() - self.settle_seconds
        return sorted(p for p in self.directory.iterdir()
                      if p.is_file() and not p.name.startswith(".") and p.stat().st_mtime <= quiet_since)

    async def process_ready(self) -> int:
        """Apply every file that is ready; returns how many were handled."""
        handled = 0
        for path in self.ready():
            await self.process(path)
            handled += 1
        return handled

    async def process(self, path: Path) -> None:
        raw = await asyncio.to_thread(path.read_bytes)
        try:
            async with self.new_uow() as uow:
                received = await receive(uow, raw, source="directory", filename=path.name[:255],
                                         structural=self.structural)
        except RefusedFile as exc:
            await keep_refused(self.new_uow, raw, exc, source="directory", filename=path.name[:255])
            target = self._move(path, "failed")
            target.with_name(target.name + ".problems.txt").write_text("\n".join(map(str, exc.problems)) + "\n")
            return
        self._move(path, "processed")
        log.info("inbound_file_moved", file_id=received.file_id, kind=received.kind, duplicate=not received.created)

    def _move(self, path: Path, folder: str) -> Path:
        target = self.directory / folder / path.name
        n = 1
        while target.exists():  # the same name dropped again: keep both
            target = self.directory / folder / f"{path.stem}.{n}{path.suffix}"
            n += 1
        return path.rename(target)

    async def run(self) -> None:
        log.info("drop_folder_started")
        await run_loop(self.process_ready, name="drop-folder", log=log, failed="drop_folder_failed",
                       every=self.poll_seconds, backoff=Backoff(first=self.poll_seconds, factor=2.0, cap=60.0))
