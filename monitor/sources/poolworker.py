"""One parse worker as the pool (:mod:`monitor.sources.pool`) sees it: its process, the
daemon's end of its socket (a protocol the event loop reads), its CPU time, and how it
is killed and reaped. The messages are in :mod:`monitor.sources.worker`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import socket
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from typing import Any

from monitor.sources.worker import HEADER, READY, serve

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
Answer = tuple[int, Any, float]  # kind, value, the worker's CPU seconds after it


class _Died(Exception):
    """The worker process ended (or could not start) before answering."""


class _Channel(asyncio.Protocol):
    """The daemon's end of one worker's socket: frames in, one answer awaited at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ready: asyncio.Future[float] = loop.create_future()
        self.waiter: asyncio.Future[Answer] | None = None
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self._buffer and len(data) >= HEADER.size:
            (size,) = HEADER.unpack_from(data)
            if len(data) == HEADER.size + size:  # the common case: one read, one answer
                self._answer(memoryview(data)[HEADER.size :])
                return
        buffer = self._buffer
        buffer += data
        while len(buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer)
            end = HEADER.size + size
            if len(buffer) < end:
                return
            frame = bytes(buffer[HEADER.size : end])
            del buffer[:end]
            self._answer(frame)

    def _answer(self, frame: bytes | memoryview) -> None:
        try:
            kind, value, cpu = pickle.loads(frame)
        except Exception as exc:  # an answer this process cannot read: that job's crash
            kind, value, cpu = -1, _Died(f"unreadable answer: {type(exc).__name__}"), 0.0
        if kind == READY:
            if not self.ready.done():
                self.ready.set_result(cpu)
        elif self.waiter is not None and not self.waiter.done():
            if kind == -1:
                self.waiter.set_exception(value)
            else:
                self.waiter.set_result((kind, value, cpu))

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.ready, self.waiter):
            if future is not None and not future.done():
                future.set_exception(_Died("the parse worker process died"))

    def send(self, job: object) -> asyncio.Future[Answer]:
        if self.transport is None or self.transport.is_closing():
            raise _Died("the parse worker process died")
        payload = pickle.dumps(job, pickle.HIGHEST_PROTOCOL)
        self.waiter = self.ready.get_loop().create_future()
        self.transport.write(HEADER.pack(len(payload)) + payload)
        return self.waiter


class _Worker:
    """One worker process, started on its first job; killing it touches no other
    feed's job."""

    __slots__ = ("broken", "channel", "cpu", "process", "started", "timer")

    def __init__(self) -> None:
        self.process: BaseProcess | None = None
        self.channel: _Channel | None = None
        self.started = False  # it has warmed up: its start-up is behind it
        self.broken = False  # killed or dead: to be replaced before its next job
        self.cpu = 0.0  # its CPU seconds when its last job ended (idle since)
        self.timer: asyncio.TimerHandle | None = None  # the deadline's next look

    async def start(self, memory_limit: int) -> float:
        """Start the process and wait for its warm-up; its CPU seconds then."""
        loop = asyncio.get_running_loop()
        mine, theirs = socket.socketpair()
        try:
            self.process = get_context("forkserver").Process(
                target=serve, args=(theirs, memory_limit, os.getpid()), name="newsmon-parse",
                daemon=True,
            )  # fmt: skip
            self.process.start()
        except (OSError, ValueError, RuntimeError) as exc:
            mine.close()
            raise _Died(f"the parse worker did not start: {exc}") from exc
        finally:
            theirs.close()
        _, self.channel = await loop.connect_accepted_socket(lambda: _Channel(loop), mine)
        return await self.channel.ready

    def cpu_seconds(self) -> float | None:
        """The worker process's CPU time now (user + system, all threads), from
        /proc; None where that cannot be read."""
        pid = self.process.pid if self.process is not None else None
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _kill(worker: _Worker) -> None:
    """Stop ``worker``'s process now; harmless if it is already stopped. A worker
    cannot be interrupted in a job: ending its process is how a runaway parse stops."""
    if worker.timer is not None:
        worker.timer.cancel()
    channel = worker.channel
    if channel is not None:
        for future in (channel.ready, channel.waiter):
            if future is not None and not future.done():
                future.cancel()  # nobody waits for it any more
        if channel.transport is not None:
            channel.transport.close()
    if worker.process is not None:
        with contextlib.suppress(Exception):  # already gone
            worker.process.terminate()
        with contextlib.suppress(Exception):
            worker.process.join(0)  # reaped now if it is gone already


def _reap(processes: list[BaseProcess]) -> None:
    """Wait for stopped workers to end (no zombie left behind)."""
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)
