"""Debian's Prometheus Alertmanager (``prometheus-alertmanager``), started by a test on
127.0.0.1 with its own config and storage, clustering off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.net import free_port

BINARY = "prometheus-alertmanager"
CONFIG = {  # every alert to a receiver that sends nothing: the test reads the API
    "route": {"receiver": "desk", "group_by": ["story"], "group_wait": "1s"},
    "receivers": [{"name": "desk"}],
}


def binary() -> str:
    """The Alertmanager binary; skips locally, fails under CI=1, if it is missing."""
    path = shutil.which(BINARY)
    if path is None:
        message = f"{BINARY} not installed (apt-get install prometheus-alertmanager; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def alertmanager(tmp: Path) -> Iterator[str]:
    """Run Alertmanager until ready; yields its base URL."""
    command = binary()
    port = free_port()
    (tmp / "alertmanager.yml").write_text(json.dumps(CONFIG), encoding="utf-8")
    with open(tmp / "alertmanager.log", "wb") as log:
        proc = subprocess.Popen(
            [command, f"--config.file={tmp / 'alertmanager.yml'}",
             f"--storage.path={tmp / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc, tmp / "alertmanager.log")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("alertmanager did not get ready")


def api(base: str, path: str, body: Any = None, **params: str) -> Any:
    """GET (or POST ``body`` as JSON to) the v2 API; the answer's JSON."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/api/v2{path}{query}", data=data,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def version(base: str) -> str:
    return str(api(base, "/status")["versionInfo"]["version"])
