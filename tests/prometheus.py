"""Debian's Prometheus, started by tests on 127.0.0.1 to scrape a running newsmon."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.net import free_port


def binary(name: str) -> str:
    """The path of ``name`` (prometheus, promtool); skips locally, fails in CI, if missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed (apt-get install prometheus; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def prometheus(tmp: Path, target: str, rules: Path | None = None) -> Iterator[str]:
    """Run Prometheus scraping ``target`` every second; yields its base URL."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)] if rules else [],
        "scrape_configs": [{"job_name": "newsmon", "static_configs": [{"targets": [target]}]}],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
    with open(tmp / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


async def wait_for_samples(base: str, query: str, timeout: float = 60) -> None:
    """Wait until ``query`` returns a non-empty vector (Prometheus up and scraping)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                result = await asyncio.to_thread(api, base, "/api/v1/query", query=query)
                if result["data"]["result"]:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.5)
