"""monitor.config: YAML -> frozen settings, every problem as file:line: message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.config import (
    MiB,
    ReceiverSchema,
    Secret,
    Settings,
    check_config,
    compose,
    load_config,
    reveal,
    settings_dump,
)
from monitor.errors import ConfigError, Problem

SECRET = "hunter2-xoxb-very-secret"
SCHEMAS = {
    "console": ReceiverSchema(frozenset()),
    "file": ReceiverSchema(frozenset({"path"})),
    "slack": ReceiverSchema(frozenset({"url"}), frozenset({"channel", "username"})),
}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path, **kwargs: object) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


def messages(path: Path, **kwargs: object) -> list[str]:
    return [f"{p.line}: {p.message}" for p in problems(path, **kwargs)]


FULL = """
feeds:
  - https://example.com/rss.xml
  - {url: https://www.reuters.com/world/rss, name: Reuters World, interval: 2m}
  - file: feeds.txt
  - opml: subscriptions.opml
rules: ["rules/*.yaml"]
bus: {kind: kafka, bootstrap_servers: "a:9092, b:9092", topic_prefix: nm, group_id: desk}
state: {path: data/newsmon.db, seen_retention_days: 30}
http: {listen: "0.0.0.0:9000", enabled: false}
fetch:
  timeout: 1m30s
  connect_timeout: 5
  max_bytes: 2MiB
  max_redirects: 3
  per_host: 4
  concurrency: 50
  user_agent: test-agent
  allow_networks: ["127.0.0.1/32", "10.0.0.0/8"]
  parse_timeout: 500ms
  max_field_bytes: 64KiB
schedule: {interval: 10m, min_interval: 90s, max_interval: 2h, jitter: 0.2, max_backoff: 1d}
log: {format: json, level: DEBUG}
receivers:
  - {name: desk-file, kind: file, path: alerts.jsonl}
  - {name: slack-desk, kind: slack, url: "${SLACK_WEBHOOK_URL}", channel: "#desk"}
"""

OPML = """
<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>subs</title></head>
  <body>
    <outline text="Defence">
      <outline text="Breaking Defense" xmlUrl="https://breakingdefense.com/feed/"/>
      <outline text="Deep">
        <outline text="t" title="Defense News" xmlUrl="https://www.defensenews.com/rss/"/>
      </outline>
    </outline>
    <outline text="not a feed"/>
  </body>
</opml>
"""


@pytest.fixture
def full(tmp_path: Path) -> Path:
    write(tmp_path, "rules/defense.yaml", "[]\n")
    write(
        tmp_path,
        "feeds.txt",
        "# desk feeds\n\nhttps://a.example/rss  Feed A\nhttps://b.example/rss\n",
    )
    write(tmp_path, "subscriptions.opml", OPML)
    return write(tmp_path, "config.yaml", FULL)


def test_full_config_loads(full: Path) -> None:
    s = load_config(full, env={"SLACK_WEBHOOK_URL": "https://hooks.example/T0/" + SECRET})
    folder = str(full.parent)
    assert s.path == str(full)
    assert [(f.url, f.name, f.interval, Path(f.file).name, f.line) for f in s.feeds] == [
        ("https://example.com/rss.xml", "https://example.com/rss.xml", None, "config.yaml", 2),
        ("https://www.reuters.com/world/rss", "Reuters World", 120.0, "config.yaml", 3),
        ("https://a.example/rss", "Feed A", None, "feeds.txt", 3),
        ("https://b.example/rss", "https://b.example/rss", None, "feeds.txt", 4),
        ("https://breakingdefense.com/feed/", "Breaking Defense", None, "subscriptions.opml", 6),
        ("https://www.defensenews.com/rss/", "Defense News", None, "subscriptions.opml", 8),
    ]
    assert s.rules == (f"{folder}/rules/*.yaml",)
    assert (s.bus.kind, s.bus.bootstrap_servers, s.bus.topic_prefix) == (
        "kafka",
        ("a:9092", "b:9092"),
        "nm",
    )
    assert (s.state.path, s.state.seen_retention_days) == (f"{folder}/data/newsmon.db", 30.0)
    assert (s.http.enabled, s.http.host, s.http.port) == (False, "0.0.0.0", 9000)
    f = s.fetch
    assert (f.timeout, f.connect_timeout, f.parse_timeout) == (90.0, 5.0, 0.5)
    assert (f.max_bytes, f.max_field_bytes) == (2 * MiB, 65536)
    assert (f.max_redirects, f.per_host, f.concurrency, f.user_agent) == (3, 4, 50, "test-agent")
    assert f.allow_networks == ("127.0.0.1/32", "10.0.0.0/8")
    sc = s.schedule
    assert (sc.interval, sc.min_interval, sc.max_interval, sc.jitter, sc.max_backoff) == (
        600.0,
        90.0,
        7200.0,
        0.2,
        86400.0,
    )
    assert (s.log.format, s.log.level) == ("json", "debug")
    desk, slack = s.receivers
    assert (desk.name, desk.kind, dict(desk.options), desk.line) == (
        "desk-file",
        "file",
        {"path": "alerts.jsonl"},
        24,
    )
    assert isinstance(slack.options["url"], Secret)
    assert reveal(slack.options["url"]) == "https://hooks.example/T0/" + SECRET
    assert slack.options["channel"] == "#desk"


def test_defaults_for_an_empty_file(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, "c.yaml", "# nothing yet\n"), env={})
    assert s == Settings(path=s.path, state=s.state, receivers=s.receivers)
    assert s.state.path == str(tmp_path / "newsmon.db")
    assert [(r.name, r.kind) for r in s.receivers] == [("console", "console")]


def test_three_mistakes_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.yaml",
        """
        feeds:
          - https://example.com/rss.xml
          - ftp://example.com/feed
        schedule:
          interval: 5 minutes
        recievers:
          - {name: console, kind: console}
        """,
    )
    assert problems(path, env={}) == [
        Problem(
            str(path),
            3,
            "feed URL: expected an http(s) URL with a host, got 'ftp://example.com/feed'",
        ),
        Problem(
            str(path),
            5,
            "schedule.interval: expected a duration such as 30, '90s', '5m' or '1h30m',"
            " got '5 minutes'",
        ),
        Problem(str(path), 6, "unknown key 'recievers' (did you mean 'receivers'?)"),
    ]
    assert (
        str(problems(path, env={})[2])
        == f"{path}:6: unknown key 'recievers' (did you mean 'receivers'?)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("shedule: {}\n", "1: unknown key 'shedule' (did you mean 'schedule'?)"),
        ("fetch:\n  timout: 3s\n", "2: fetch: unknown key 'timout' (did you mean 'timeout'?)"),
        (
            "feeds:\n  - {ulr: https://x.example/}\n",
            "2: feed: unknown key 'ulr' (did you mean 'url'?)",
        ),
        (
            "feeds:\n  - {url: https://x.example/, nmae: X}\n",
            "2: feed: unknown key 'nmae' (did you mean 'name'?)",
        ),
        (
            "bus: {kind: kafak}\n",
            "1: bus.kind: expected memory | kafka, got 'kafak' (did you mean 'kafka'?)",
        ),
        (
            "log: {level: verbose}\n",
            "1: log.level: expected debug | info | warning | error, got 'verbose'"
            " (expected one of: debug, error, info, warning)",
        ),
        (
            "bus: {kind: kafka}\n",
            "1: bus: kind kafka needs bootstrap_servers (e.g. 'localhost:9092')",
        ),
        (
            "fetch: {max_bytes: 10 parsecs}\n",
            "1: fetch.max_bytes: expected a positive size such as 65536, '64KiB' or"
            " '10MiB', got '10 parsecs'",
        ),
        (
            "fetch: {max_redirects: 21}\n",
            "1: fetch.max_redirects: expected a whole number from 0 to 20, got 21",
        ),
        ("fetch: {timeout: -3}\n", "1: fetch.timeout: expected a positive duration, got -3"),
        (
            "fetch: {allow_networks: [localhost]}\n",
            "1: fetch.allow_networks: expected CIDR networks such as '127.0.0.1/32':"
            " 'localhost' does not appear to be an IPv4 or IPv6 network",
        ),
        (
            "schedule: {jitter: 0.7}\n",
            "1: schedule.jitter: expected a number from 0 to 0.5, got 0.7",
        ),
        (
            "schedule: {interval: 30s}\n",
            "1: schedule: expected min_interval <= interval <= max_interval, got 60s <="
            " 30s <= 3600s",
        ),
        (
            "http: {listen: 9464}\n",
            "1: http.listen: expected 'host:port' such as '127.0.0.1:9464'"
            " (port 0: any free port), got 9464",
        ),
        ("http: {enabled: maybe}\n", "1: http.enabled: expected true or false, got 'maybe'"),
        ("state: [a]\n", "1: state: expected a mapping, got a list"),
        ("feeds: {url: x}\n", "1: feeds: expected a list, got a mapping"),
        ("feeds:\n  - {name: X}\n", "2: feed: needs 'url' (or 'file' / 'opml')"),
        (
            "feeds:\n  - https://\n",
            "2: feed URL: expected an http(s) URL with a host, got 'https://'",
        ),
        (
            "feeds:\n  - {url: https://x.example/, interval: 10s}\n",
            "2: feed interval: 10s is outside schedule min_interval..max_interval (60s..3600s)",
        ),
        ("log: {level: info}\nlog: {level: debug}\n", "2: duplicate key 'log' (first at line 1)"),
        (
            "schedule: {min_interval: 10m, interval: 5 min}\n",
            "1: schedule.interval: expected a duration such as 30, '90s', '5m' or"
            " '1h30m', got '5 min'",
        ),
        ("<<: {log: {}}\n", "1: the config: merge keys (<<) are not supported"),
        ("feeds: [1]\n", "1: feed URL: expected an http(s) URL with a host, got 1"),
        ("rules: ['nothing/*.yaml']\n", "1: rules: 'nothing/*.yaml' matches no file (in {folder})"),
    ],
)
def test_single_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "c.yaml", text)
    assert messages(path, env={}) == [expected.replace("{folder}", str(tmp_path))]


@pytest.fixture(params=["libyaml", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each YAML parser newsmon may run with: libyaml's when PyYAML has it, else PyYAML's."""
    if request.param == "python":
        monkeypatch.setattr(compose, "LOADER", compose.PureLoader)
    elif compose.LOADER is compose.PureLoader:
        pytest.skip("this PyYAML has no libyaml")
    return str(request.param)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("log:\n\tlevel: info\n", 2, "a tab character at column 1: YAML indents with spaces only"),
        (
            "feeds:\n  - a\n  \t- b\n",
            3,
            "a tab character at column 3: YAML indents with spaces only",
        ),
        (
            "log:\n    level: info\n  format: text\n",
            3,
            "this line is indented differently from the lines around it"
            " (a key at column 3 where column 5 or 1 was expected)",
        ),
        (
            "log:\n  level: info\n    format: text\n",
            3,
            "this line is indented more than the line before it (a key at column 5 where"
            " column 3 was expected), so YAML reads it as more of line 2's value",
        ),
        (
            "log: {level: info}\n  format: x\n",
            2,
            "this line is indented differently from the lines around it"
            " (a key at column 3 where column 1 was expected)",
        ),
        (
            "feeds:\n  - a\n  b: c\n",
            3,
            "a key at column 3 inside the list of line 2, where a list item ('- ') at"
            " column 3 was expected",
        ),
        (
            "receivers:\n  - name: a\n    kind: file\n - name: b\n",
            4,
            "this line is indented differently from the lines around it"
            " (a list item at column 2 where column 5, 3 or 1 was expected)",
        ),
        (
            'state:\n  path: "data.db\nlog: {}\n',
            2,
            'the " at column 9 is never closed: a closing " is missing',
        ),
        (
            "feeds: [https://a.example/rss\nlog: {}\n",
            1,
            "the '[' at column 8 is never closed: a ']' is missing (YAML read on to line 2)",
        ),
        (
            "log: {level: info format: text}\n",
            1,
            "a ',' between two entries, or the closing '}', is missing before column 25"
            " (in the '{' at column 6)",
        ),
        (
            "log\n  level: info\n",
            1,
            "'log' has no ':' after its key (write 'key: value'), so YAML reads line 2 as"
            " more of its text",
        ),
        (
            "log:\n  level info\n  format: text\n",
            2,
            "'level info' has no ':' after its key (write 'key: value'), so YAML reads"
            " line 3 as more of its text",
        ),
        (
            "fetch:\n  user_agent: newsmon: a desk\n",
            2,
            "a second ': ' at column 22: a value that contains ': ' must be quoted"
            ' (user_agent: "...")',
        ),
        (
            'fetch:\n  user_agent: "newsmon" desk\n',
            2,
            "text after the closing quote at column 23: a value that starts with a quote"
            " ends there; quote the whole value: user_agent: '\"newsmon\" desk'",
        ),
        (
            "log: {level: @info}\n",
            1,
            "'@' at column 14 cannot start a value (YAML reserves @ and `): put the value in"
            " quotes",
        ),
        ("rules: [a]]\n", 1, "a ']' at column 11 that closes nothing"),
        ("log:\n  : info\n", 2, "a ':' with no key before it"),
        (
            "state: {path: *db}\n",
            1,
            "'*db' names no anchor '&db' above it; a value that starts with '*' must be quoted",
        ),
        ("a: &x 1\nb: &x 2\n", 2, "anchor '&x' is defined twice (first at line 1)"),
        ("a: 1\n---\nb: 2\n", 2, "a second YAML document starts here ('---'): a file holds one"),
        (
            'fetch: {user_agent: "C:\\data"}\n',
            1,
            "'\\d' at column 24 is not an escape: in double quotes a backslash starts one"
            " (\\n, \\t, \\\\); write \\\\ for a backslash, or use single quotes",
        ),
        (
            "log: {level: in\x01fo}\n",
            1,
            "a control character (U+0001) at column 16: YAML does not allow it",
        ),
    ],
)
def test_yaml_syntax_errors_in_plain_words(
    tmp_path: Path, parser: str, text: str, line: int, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    [problem] = problems(path, env={})
    assert str(problem) == f"{path}:{line}: invalid YAML: {message}"
    assert "<block" not in problem.message and "token" not in problem.message


def test_alias_bomb_in_the_config_is_refused_at_the_alias(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    path = write(tmp_path, "c.yaml", "\n".join(["feeds:", *("  " + x for x in lines)]) + "\n")
    [problem] = problems(path, env={})
    assert str(problem) == (
        f"{path}:7: invalid YAML: alias *e expands to 66,430 nodes (anchor &e at line 6),"
        " taking the document past 100,000 nodes added by aliases; aliases of aliases grow"
        " exponentially: write the values out, or use fewer"
    )


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "c.yaml", "log: {}\nfeeds: &f\n  - https://a.example/rss\n  - *f\n")
    assert messages(path, env={}) == [
        "4: invalid YAML: alias *f is inside the node its anchor &f (line 2) marks:"
        " a value cannot contain itself"
    ]


def test_a_config_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"# padding\n" * (compose.MAX_FILE_BYTES // 10 + 1) + b"log: {}\n")
    assert messages(path) == ["0: config is over 8 MiB, the limit for one file"]


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"log: {}\nfetch: {user_agent: caf\xe9}\n")
    assert messages(path) == ["2: cannot read config: not UTF-8 text (invalid continuation byte)"]


def test_unreadable_config(tmp_path: Path) -> None:
    assert messages(tmp_path / "missing.yaml") == [
        "0: cannot read config: No such file or directory"
    ]


def test_feed_list_file_problems_name_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "lists/desk.txt",
        "https://a.example/rss\n# c\nnot-a-url Name\n\nhttps://a.example/rss\n",
    )
    path = write(tmp_path, "c.yaml", "feeds:\n  - file: lists/desk.txt\n  - file: lists/none.txt\n")
    got = [str(p) for p in problems(path, env={})]
    folder = str(tmp_path)
    assert got == [
        f"{folder}/c.yaml:3: feeds: cannot read {folder}/lists/none.txt: No such file or directory",
        f"{folder}/lists/desk.txt:3: feed URL: expected an http(s) URL with a host, got"
        " 'not-a-url'",
        f"{folder}/lists/desk.txt:5: duplicate feed https://a.example/rss (first at"
        f" {folder}/lists/desk.txt:1)",
    ]


def test_feed_includes_take_the_include_interval(tmp_path: Path) -> None:
    write(tmp_path, "f.txt", "https://a.example/rss\n")
    write(tmp_path, "s.opml", OPML)
    path = write(
        tmp_path,
        "c.yaml",
        "feeds:\n  - {file: f.txt, interval: 2m}\n  - {opml: s.opml, interval: 3m}\n",
    )
    assert [f.interval for f in load_config(path, env={}).feeds] == [120.0, 180.0, 180.0]


@pytest.mark.parametrize(
    ("opml", "line", "message"),
    [
        (
            "<opml><body>\n<outline xmlUrl='https://a.example/'>\n</body></opml>",
            3,
            "invalid OPML: mismatched tag",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n]>\n<opml/>',
            3,
            "OPML refused: entity declarations are refused",
        ),
        (
            "<opml><body>\n<outline xmlUrl='gopher://a.example/'/>\n</body></opml>",
            2,
            "feed URL: expected an http(s) URL with a host, got 'gopher://a.example/'",
        ),
    ],
)
def test_opml_problems(tmp_path: Path, opml: str, line: int, message: str) -> None:
    write(tmp_path, "s.opml", opml)
    path = write(tmp_path, "c.yaml", "feeds:\n  - opml: s.opml\n")
    assert problems(path, env={}) == [Problem(str(tmp_path / "s.opml"), line, message)]


def test_duplicate_feed_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        "feeds:\n  - https://x.example/rss\n  - {url: 'HTTPS://X.example/rss'}\n",
    )
    assert messages(path, env={}) == [
        f"3: duplicate feed HTTPS://X.example/rss (first at {path}:2)"
    ]


def test_env_expansion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        bus: {kind: kafka, bootstrap_servers: "${KAFKA}"}
        fetch: {user_agent: "${UA:-newsmon-test}"}
        receivers:
          - {name: s, kind: slack, url: "https://hooks.example/${TOKEN}", n: 3}
        """,
    )
    s = load_config(path, env={"KAFKA": "k1:9092,k2:9092", "TOKEN": SECRET})
    assert s.bus.bootstrap_servers == ("k1:9092", "k2:9092")
    assert s.fetch.user_agent == Secret("newsmon-test")  # from ${...}: kept secret
    assert reveal(s.fetch.user_agent) == "newsmon-test"
    assert settings_dump(s)["fetch"]["user_agent"] == "***"
    assert s.receivers[0].options == {"url": Secret(f"https://hooks.example/{SECRET}"), "n": 3}
    assert settings_dump(s)["receivers"][0]["options"] == {"url": "***", "n": 3}
    for text in (repr(s), str(s), str(settings_dump(s))):
        assert SECRET not in text


def test_missing_env_var_is_named_never_leaked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        http: {listen: "${LISTEN}"}
        receivers:
          - {name: s, kind: slack, url: "${SLACK_URL}"}
          - {name: t, kind: slack, url: "${}"}
        """,
    )
    assert messages(path, env={"LISTEN": SECRET}) == [
        "1: http.listen: expected 'host:port' such as '127.0.0.1:9464' (port 0: any free port),"
        " got a value from ${...} (hidden)",
        "3: environment variable SLACK_URL is not set",
        "4: bad environment reference: expected ${NAME} or ${NAME:-default}",
    ]
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"LISTEN": SECRET})
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.problems)


def test_secret_feed_url_is_named_by_its_reference(tmp_path: Path) -> None:
    path = write(
        tmp_path, "c.yaml", "feeds:\n  - https://x.example/rss?key=${KEY}\n  - 'ftp://${KEY}'\n"
    )
    assert messages(path, env={"KEY": SECRET}) == [
        "3: feed URL: expected an http(s) URL with a host, got a value from ${...} (hidden)"
    ]
    path.write_text("feeds:\n  - https://x.example/rss?key=${KEY}\n")
    s = load_config(path, env={"KEY": SECRET})
    [feed] = s.feeds
    # the identity (state, items, alerts, logs, dumps) is the URL as written
    assert (feed.url, feed.name) == ("https://x.example/rss?key=${KEY}",) * 2
    assert feed.fetch_url == f"https://x.example/rss?key={SECRET}"  # only the fetcher's
    assert feed.base == "https://x.example/rss"  # relative links: no query, no secret
    dumped = settings_dump(s)["feeds"][0]
    assert (dumped["url"], dumped["secret_url"]) == ("https://x.example/rss?key=${KEY}", "***")
    for text in (repr(s), str(s), str(settings_dump(s))):
        assert SECRET not in text


@pytest.mark.parametrize(
    ("written", "env", "shown", "base"),
    [
        (  # credentials written in clear: never shown either
            "https://reader:pa55@x.example/a/rss?k=1",
            {},
            "https://***@x.example/a/rss?k=1",
            "https://x.example/a/rss",
        ),
        (
            "https://reader:${PW}@x.example/rss",
            {"PW": SECRET},
            "https://***@x.example/rss",
            "https://x.example/rss",
        ),
        (  # a secret in the path: relative links resolve against the host only
            "https://x.example/feeds/${TOKEN}/rss",
            {"TOKEN": SECRET},
            "https://x.example/feeds/${TOKEN}/rss",
            "https://x.example/",
        ),
        (
            "${FEED_URL}",
            {"FEED_URL": f"https://x.example/{SECRET}"},
            "${FEED_URL}",
            "https://x.example/",
        ),
        ("https://x.example/rss", {}, "https://x.example/rss", "https://x.example/rss"),
    ],
)
def test_feed_url_is_shown_without_secrets_or_credentials(
    tmp_path: Path, written: str, env: dict[str, str], shown: str, base: str
) -> None:
    path = write(tmp_path, "c.yaml", f"feeds:\n  - '{written}'\n")
    s = load_config(path, env=env)
    [feed] = s.feeds
    assert (feed.url, feed.name, feed.base) == (shown, shown, base)
    assert feed.fetch_url == written.replace("${PW}", SECRET).replace("${TOKEN}", SECRET).replace(
        "${FEED_URL}", f"https://x.example/{SECRET}"
    )
    for text in (repr(s), str(settings_dump(s))):
        assert SECRET not in text and "pa55" not in text


def test_feeds_differing_only_in_credentials_are_one_identity(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """
        feeds:
          - https://a:1@x.example/rss
          - https://b:2@x.example/rss
        """,
    )
    assert messages(path, env={}) == ["3: duplicate feed https://***@x.example/rss (first at "
                                      f"{path}:2)"]  # fmt: skip


@pytest.mark.parametrize(
    ("receiver", "expected"),
    [
        (
            "{name: a, kind: slak, url: x}",
            ["2: receiver 'a': unknown kind 'slak' (did you mean 'slack'?)"],
        ),
        ("{name: a, kind: slack, channel: x}", ["2: receiver 'a': kind slack needs option 'url'"]),
        (
            "{name: a, kind: slack, url: x, chanel: y}",
            ["2: receiver 'a': unknown option 'chanel' for kind slack (did you mean 'channel'?)"],
        ),
        (
            "{name: a, kind: console, colour: red}",
            ["2: receiver 'a': unknown option 'colour' for kind console"],
        ),
        ("{kind: console}", ["2: receiver: needs 'name'"]),
        (
            "{name: console, kind: console}\n  - {name: console, kind: console}",
            ["3: duplicate receiver name 'console' (first at line 2)"],
        ),
    ],
)
def test_receiver_schema(tmp_path: Path, receiver: str, expected: list[str]) -> None:
    path = write(tmp_path, "c.yaml", f"receivers:\n  - {receiver}\n")
    assert messages(path, env={}, receivers=SCHEMAS) == expected


def test_receiver_options_unchecked_without_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "receivers:\n  - {name: a, kind: pager, anything: [1, 2]}\n")
    [r] = load_config(path, env={}).receivers
    assert (r.name, r.kind, dict(r.options), r.line) == ("a", "pager", {"anything": [1, 2]}, 2)
    with pytest.raises(TypeError):
        r.options["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        ("'90s'", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("250ms", 0.25),
    ],
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    path = write(tmp_path, "c.yaml", f"fetch: {{parse_timeout: {text}}}\n")
    assert load_config(path, env={}).fetch.parse_timeout == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("64KiB", 65536), ("10MiB", 10 * MiB), ("1MB", 10**6), ("2 kb", 2000)],
)
def test_sizes(tmp_path: Path, text: str, size: int) -> None:
    path = write(tmp_path, "c.yaml", f"fetch: {{max_field_bytes: {text}}}\n")
    assert load_config(path, env={}).fetch.max_field_bytes == size


@pytest.mark.parametrize(
    ("entry", "normalised"),
    [
        ("127.0.0.1/32", "127.0.0.1/32"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.1/8", "10.0.0.0/8"),  # host bits set: taken, as always
        ("::1", "::1/128"),
        ("127.0.0.1:8080", "127.0.0.1/32:8080"),
        ("127.0.0.0/8:8080", "127.0.0.0/8:8080"),
        ("[::1]:8080", "[::1/128]:8080"),
        ("[fd00::/8]:443", "[fd00::/8]:443"),
        ("[::1]", "::1/128"),
    ],
)
def test_allow_networks_with_and_without_port(tmp_path: Path, entry: str, normalised: str) -> None:
    from monitor.addresses import parse_allowed, parse_allowlist

    path = write(tmp_path, "c.yaml", f'fetch: {{allow_networks: ["{entry}"]}}\n')
    networks = load_config(path, env={}).fetch.allow_networks
    assert networks == (normalised,)
    assert parse_allowlist(networks) == (parse_allowed(normalised),)  # the fetcher takes it


def test_allow_networks_comma_string_mixes_forms(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", 'fetch: {allow_networks: "10.0.0.0/8, [::1]:8080"}\n')
    assert load_config(path, env={}).fetch.allow_networks == ("10.0.0.0/8", "[::1/128]:8080")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("127.0.0.1:99999", "bad port '99999'"),
        ("127.0.0.1:", "bad port ''"),
        ("[::1]:http", "bad port 'http'"),
        ("[::1", "expected [IPv6] or [IPv6]:port"),
        ("[::1]8080", "expected [IPv6] or [IPv6]:port"),
        ("localhost:8080", "not an address or network"),
    ],
)
def test_allow_networks_bad_port_forms(tmp_path: Path, entry: str, reason: str) -> None:
    path = write(tmp_path, "c.yaml", f'fetch: {{allow_networks: ["{entry}"]}}\n')
    [message] = messages(path, env={})
    assert message.startswith(
        "1: fetch.allow_networks: expected a network and port such as '127.0.0.1:8080'"
        f" or '[::1]:8080', got {entry!r}: {reason}"
    )


def test_allow_networks_from_env_never_shown(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "fetch: {allow_networks: ['${NETS}']}\n")
    [message] = messages(path, env={"NETS": SECRET + ":1"})
    assert SECRET not in message and "hidden" in message
    path = write(tmp_path, "d.yaml", "fetch: {allow_networks: '${NETS}'}\n")
    ok = load_config(path, env={"NETS": "10.0.0.0/8,127.0.0.1:8080"}).fetch.allow_networks
    assert ok == ("10.0.0.0/8", "127.0.0.1/32:8080")


def test_check_config_returns_what_it_could_read_and_every_problem(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text("rules: []\n")
    path = write(
        tmp_path,
        "c.yaml",
        """
        feeds: [ftp://x.example/rss, https://x.example/rss]
        rules: ["rules/*.yaml", "missing/*.yaml"]
        schedule: {interval: soon}
        """,
    )
    settings, found = check_config(path, env={})
    assert [f"{p.line}: {p.message.split(':')[0]}" for p in found] == [
        "1: feed URL",
        "2: rules",
        "3: schedule.interval",
    ]
    assert [f.url for f in settings.feeds] == ["https://x.example/rss"]
    assert settings.rules[0].endswith("rules/*.yaml")
    assert check_config(write(tmp_path, "ok.yaml", "feeds: [https://x.example/rss]\n"))[1] == []


KAFKA_BUS = "bus:\n  kind: kafka\n  bootstrap_servers: 'k:9092'\n"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            "  session_timeout: 2s\n  heartbeat_interval: 500ms\n",
            "4: bus.session_timeout: 2s is outside what Apache Kafka accepts by default",
        ),
        (
            "  session_timeout: 31m\n  max_poll_interval: 1h\n",
            "4: bus.session_timeout: 1860s is outside what Apache Kafka accepts by default",
        ),
        (
            "  session_timeout: 9s\n  heartbeat_interval: 4s\n",
            "5: bus.heartbeat_interval: expected at most a third of session_timeout (9s / 3 = 3s),"
            " got 4s",
        ),
        (
            "  session_timeout: 30s\n  max_poll_interval: 20s\n",
            "5: bus.max_poll_interval: expected at least session_timeout (30s), got 20s",
        ),
    ],
)
def test_kafka_group_timeouts_outside_what_the_broker_accepts_name_their_line(
    tmp_path: Path, lines: str, expected: str
) -> None:
    """Issue 11: a 2 s session was accepted and the join then failed on Apache Kafka
    (group.min.session.timeout.ms is 6 s); each timeout is checked at its own line."""
    path = write(tmp_path, "c.yaml", KAFKA_BUS + lines)
    found = messages(path, env={})
    assert len(found) == 1 and found[0].startswith(expected), found


def test_kafka_group_timeouts_at_the_bounds_load(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", KAFKA_BUS + "  session_timeout: 6s\n"
                 "  heartbeat_interval: 2s\n  max_poll_interval: 6s\n")  # fmt: skip
    b = load_config(path, env={}).bus
    assert (b.session_timeout, b.heartbeat_interval, b.max_poll_interval) == (6.0, 2.0, 6.0)


def test_the_memory_bus_keeps_its_one_timeout_check(tmp_path: Path) -> None:
    """The memory bus has no broker: a short session is fine there, as before."""
    path = write(tmp_path, "c.yaml", "bus: {session_timeout: 2s, heartbeat_interval: 500ms}\n")
    assert load_config(path, env={}).bus.session_timeout == 2.0
