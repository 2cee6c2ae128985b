"""The mistakes a new user makes, tried with the real ``newsmon`` command: an alias
bomb, a huge rule file, a near-miss query term, YAML indentation and tabs. Each
ends in a clear ``file:line: ...`` and the right exit code, never a hang."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from feedserver import FeedServer
from support.config import write_config
from support.daemon import Daemon, newsmon, until
from support.samples import serve_samples

from monitor.config.compose import MAX_FILE_BYTES

PACK = """\
entities:
  - {name: PLA, aliases: ["People's Liberation Army"]}
  - {name: Iran}
rules:
  - name: navy
    query: PLAN AND (titel:Iran OR Iran)
"""


def billion_laughs() -> str:
    """Nine lists of nine aliases of the list before, under entities[].aliases:
    9**9 (387 million) strings once expanded."""
    lines = ["entities:", "  - name: Boom", "    aliases:"]
    lines.append("      - &a [" + ", ".join(['"lol"'] * 9) + "]")
    lines += [
        f"      - &{b} [{', '.join([f'*{a}'] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    return "\n".join([*lines, "rules:", "  - {name: boom, query: Boom}"]) + "\n"


def with_rules(tmp_path: Path, feeds: Mapping[str, str] | None = None, **files: str) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / "rules" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return write_config(tmp_path, feeds or {}, rules="['rules/*.yaml']")


BOMB_PROBLEM = (
    ":9: invalid YAML: alias *e expands to 66,430 nodes (anchor &e at line 8), taking the"
    " document past 100,000 nodes added by aliases; aliases of aliases grow exponentially:"
    " write the values out, or use fewer"
)


async def test_an_alias_bomb_is_refused_by_check_and_run(tmp_path: Path) -> None:
    config = with_rules(tmp_path, bomb=billion_laughs())
    bomb = tmp_path / "rules" / "bomb.yaml"
    for command in (("check",), ("run", "--once")):
        code, out, err = await newsmon(*command, "-c", str(config), timeout=45)
        assert code == 1, err
        assert err.strip().splitlines() == [f"{bomb}{BOMB_PROBLEM}"], err
        assert "ok:" not in out


async def test_an_alias_bomb_in_a_hot_reload_is_refused_and_the_rules_stay(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = serve_samples(feed_server)  # a daemon with feeds to poll keeps running
    config = with_rules(tmp_path, feeds, desk="rules:\n  - {name: gripen, query: Gripen}\n")
    async with Daemon(config) as daemon:  # SIGTERM on the way out; it must exit 0
        await until(lambda: " started " in daemon.log(), "the daemon to start")
        (tmp_path / "rules" / "desk.yaml").write_text(billion_laughs(), encoding="utf-8")
        await until(lambda: "rules_kept rules=1" in daemon.log(), "the reload to be refused")
        desk = tmp_path / "rules" / "desk.yaml"
        assert f"rules_reload_failed problem={desk}{BOMB_PROBLEM}" in daemon.log()


async def test_a_rule_file_over_the_limit_is_refused_at_once(tmp_path: Path) -> None:
    entry = "  - {name: r%07d, query: x}\n"
    body = "rules:\n" + "".join(entry % n for n in range(MAX_FILE_BYTES // 27 + 1))
    config = with_rules(tmp_path, huge=body)
    code, _, err = await newsmon("check", "-c", str(config), timeout=45)
    assert code == 1
    assert err.strip().splitlines() == [
        f"{tmp_path / 'rules' / 'huge.yaml'}:0: rule file is over 8 MiB, the limit for one"
        " file; split it into several rule files (entities are shared by all of them)"
    ]


async def test_near_misses_warn_and_fail_only_a_strict_check(tmp_path: Path) -> None:
    config = with_rules(tmp_path, navy=PACK)
    pack = tmp_path / "rules" / "navy.yaml"
    expected = [
        f"{pack}:6: warning: rule 'navy': term 'PLAN' is not an entity; did you mean 'PLA'?",
        f"{pack}:6: warning: rule 'navy': term 'titel:Iran' is not a field scope;"
        " did you mean 'title:Iran'?",
    ]
    code, out, err = await newsmon("check", "-c", str(config))
    assert code == 0, err
    assert err.strip().splitlines() == expected
    assert out.strip() == f"{config}: ok: 0 feeds, 1 rules, 1 receivers, 2 warnings"

    code, out, err = await newsmon("check", "--strict", "-c", str(config))
    assert code == 1
    assert err.strip().splitlines() == [*expected, "newsmon check: 2 warnings, failing (--strict)"]
    assert "ok:" not in out

    pack.write_text(PACK.replace("PLAN", "PLA").replace("titel:", "title:"), encoding="utf-8")
    code, out, err = await newsmon("check", "--strict", "-c", str(config))
    assert (code, err) == (0, ""), err
    assert out.strip() == f"{config}: ok: 0 feeds, 1 rules, 1 receivers"


async def test_the_daemon_logs_each_warning_once_per_load(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = with_rules(tmp_path, serve_samples(feed_server), navy=PACK)
    pack = tmp_path / "rules" / "navy.yaml"
    async with Daemon(config) as daemon:
        await until(lambda: " started " in daemon.log(), "the daemon to start")
        assert daemon.log().count("rule_warning problem=") == 2
        assert f"rule_warning problem={pack}:6: warning: rule 'navy': term 'PLAN'" in daemon.log()
        pack.write_text(PACK.replace("titel:", "title:"), encoding="utf-8")  # one fixed
        await until(lambda: "rules_reloaded" in daemon.log(), "the reload")
        assert daemon.log().count("rule_warning problem=") == 3  # the one left, again
        assert daemon.log().count("term 'titel:Iran'") == 1


async def test_yaml_mistakes_are_said_in_plain_words(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.yaml"
    config.write_text("http:\n    enabled: false\n  listen: 127.0.0.1:0\n", encoding="utf-8")
    code, _, err = await newsmon("check", "-c", str(config))
    assert (code, err.strip()) == (1, f"{config}:3: invalid YAML: this line is indented"
                                      " differently from the lines around it (a key at column 3"
                                      " where column 5 or 1 was expected)")  # fmt: skip

    config = with_rules(
        tmp_path,
        a="rules:\n  - name: r\n    query: x\n   severity: high\n",
        b="rules:\n  - name: s\n\tquery: y\n",
    )
    code, _, err = await newsmon("check", "-c", str(config))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines == [
        f"{tmp_path / 'rules' / 'a.yaml'}:4: invalid YAML: this line is indented differently"
        " from the lines around it (a key at column 4 where column 5, 3 or 1 was expected)",
        f"{tmp_path / 'rules' / 'b.yaml'}:3: invalid YAML: a tab character at column 1:"
        " YAML indents with spaces only",
    ]
