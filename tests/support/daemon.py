"""The real ``newsmon`` command, run to completion or kept running as a daemon.

    code, out, err = await newsmon("check", "-c", str(config))
    async with Daemon(config) as d:              # `newsmon run -c config`, stderr to a log
        await until(lambda: alerts_written(), "the alerts")
    # on the way out: SIGTERM, and the daemon must exit 0 (the log is in the failure)

The command is the installed console script ``newsmon`` beside the interpreter
(what a user runs), else ``python -m monitor.cli``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, NamedTuple


def command() -> list[str]:
    script = Path(sys.executable).with_name("newsmon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]


class Result(NamedTuple):
    code: int
    out: str
    err: str


async def newsmon(
    *args: str, timeout: float = 60, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Result:
    """Run ``newsmon ARGS`` to its end; its exit code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        *command(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None, cwd=cwd,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait until ``condition()`` is true; TimeoutError naming ``what`` if it never is."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise TimeoutError(f"gave up waiting for {what} after {timeout:g}s") from None


class Daemon:
    """``newsmon run -c CONFIG ARGS`` in the background, stderr to ``log``."""

    def __init__(
        self, config: Path, *args: str, log: Path | None = None,
        env: Mapping[str, str] | None = None, check: bool = True, new_session: bool = False,
    ) -> None:  # fmt: skip
        self.config, self.args, self.env, self.check = config, args, env, check
        self.new_session = new_session  # its own process group, as a terminal's job
        self.log_path = log or config.with_suffix(".log")
        self.proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    async def __aenter__(self) -> Daemon:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, *_: object) -> None:
        code = await self.stop()
        if self.check and exc_type is None:
            assert code == 0, f"newsmon exited {code}:\n{self.log()[-3000:]}"

    async def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed by stop)
        self.proc = await asyncio.create_subprocess_exec(
            *command(), "run", "-c", str(self.config), *self.args,
            stdout=asyncio.subprocess.DEVNULL, stderr=self._log,
            env=dict(self.env) if self.env is not None else None,
            start_new_session=self.new_session,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log(self) -> str:
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.log_path.exists()
            else ""
        )

    def send(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        """Send ``sig`` (if still running) and wait; the exit code (killed after ``timeout``)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    async def kill(self) -> int:
        """SIGKILL: a crash, nothing drained."""
        return await self.stop(signal.SIGKILL)
