"""The http section: a token from the environment, required off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.daemon import newsmon

from monitor.config import HttpConfig, Secret, load_config, settings_dump
from monitor.errors import ConfigError

TOKEN = "0123456789abcdef0123"


def load(tmp: Path, http: str, env: dict[str, str] | None = None) -> HttpConfig:
    path = tmp / "newsmon.yaml"
    path.write_text(f"http: {http}\n", encoding="utf-8")
    return load_config(path, env=env or {}).http


def problems(tmp: Path, http: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp, http, env)
    return [f"{p.line}: {p.message}" for p in info.value.problems]


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [("127.0.0.1:9464", True), ("127.8.9.10:1", True), ("[::1]:9464", True),
     ("localhost:9464", True), ("LOCALHOST:1", True), ("0.0.0.0:9464", False),
     ("[::]:9464", False), ("10.1.2.3:9464", False), ("newsmon.internal:9464", False),
     ("[::ffff:127.0.0.1]:1", False)],
)  # fmt: skip
def test_the_listen_address_says_whether_only_this_machine_reaches_it(
    listen: str, loopback: bool
) -> None:
    assert HttpConfig(listen=listen).loopback is loopback


def test_off_loopback_without_a_token_is_a_config_error(tmp_path: Path) -> None:
    (message,) = problems(tmp_path, "{listen: '0.0.0.0:9464'}")
    assert message.startswith("1: http: listen '0.0.0.0:9464' is off loopback")
    assert "http.auth_token: '${NEWSMON_UI_TOKEN}'" in message
    assert load(tmp_path, "{listen: '0.0.0.0:9464', enabled: false}").auth_token is None
    assert load(tmp_path, "{listen: '127.0.0.1:9464'}").auth_token is None


def test_the_token_comes_from_the_environment_and_is_never_shown(tmp_path: Path) -> None:
    http = load(tmp_path, "{listen: '0.0.0.0:9464', auth_token: '${UI}'}", {"UI": TOKEN})
    assert isinstance(http.auth_token, Secret) and http.auth_token.reveal() == TOKEN
    assert TOKEN not in repr(http)
    path = tmp_path / "newsmon.yaml"
    dumped = settings_dump(load_config(path, env={"UI": TOKEN}))
    assert dumped["http"]["auth_token"] == "***"


def test_a_token_written_in_the_file_or_too_short_is_refused(tmp_path: Path) -> None:
    (written,) = problems(tmp_path, f"{{listen: '0.0.0.0:1', auth_token: '{TOKEN}'}}")
    assert "expected the token from the environment" in written and TOKEN not in written
    (short,) = problems(tmp_path, "{auth_token: '${UI}'}", {"UI": "short"})
    assert "has 5 characters: expected at least 16" in short and "short'" not in short
    (unset,) = problems(tmp_path, "{listen: '0.0.0.0:1', auth_token: '${UI}'}")
    assert "UI" in unset


async def test_newsmon_check_says_so(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text("http: {listen: '0.0.0.0:9464'}\n", encoding="utf-8")
    code, _, err = await newsmon("check", "-c", str(config))
    assert code == 1
    assert "is off loopback: the web UI and API there need http.auth_token" in err
