"""``newsmon check`` on the new receiver kinds: every problem once, at its line, no
traceback, no secret; a good config of them checks clean without network."""

from __future__ import annotations

import os
from pathlib import Path

from support.daemon import newsmon

SECRET = "123456789:AAsecretTOKEN"
CONFIG = """\
rules: []
http: {enabled: false}
receivers:
  - {name: phones, kind: apprise, urls: ["ntfy://newsmon-desk", "${TG_URL}"], followups: no}
  - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093", resolve_after: 2h,
     labels: {team: osint}}
  - {name: am-ha, kind: alertmanager, urls: ["http://am-a:9093", "http://am-b:9093"]}
"""


async def test_a_good_config_of_the_new_kinds_checks_clean(tmp_path: Path) -> None:
    (tmp_path / "newsmon.yaml").write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "TG_URL": f"tgram://{SECRET}/-100123"}
    code, out, err = await newsmon("check", "-c", str(tmp_path / "newsmon.yaml"), env=env)
    assert (code, err) == (0, "")
    assert out.strip().endswith("ok: 0 feeds, 0 rules, 3 receivers")


async def test_each_problem_once_at_its_line_and_no_secret(tmp_path: Path) -> None:
    broken = (
        CONFIG.replace("labels: {team: osint}", 'labels: {team: osint, "bad-name": x}').replace(
            'url: "http://127.0.0.1:9093"', "url: 127.0.0.1:9093"
        )
        + '  - {name: s, kind: slack, url: "https://hooks.example/x", followups: maybe}\n'
        + '  - {name: p2, kind: aprise, url: "json://127.0.0.1:9/x"}\n'
    )
    config = tmp_path / "newsmon.yaml"
    config.write_text(broken, encoding="utf-8")
    env = {**os.environ, "TG_URL": f"nonsense://{SECRET}/x"}
    code, out, err = await newsmon("check", "-c", str(config), env=env)
    assert code == 1 and "Traceback" not in err and SECRET not in out + err
    assert err.strip().splitlines() == [
        f"{config}:6: receiver 'am': labels: label name 'bad-name': expected"
        " [a-zA-Z_][a-zA-Z0-9_]*, not one of alertname, story, rule, severity, receiver",
        f"{config}:8: receiver 's': followups: expected true or false, got 'maybe'",
        f"{config}:9: receiver 'p2': unknown kind 'aprise' (did you mean 'apprise'?)",
        f"{config}:4: receiver 'phones': urls #2 (nonsense://...): Apprise cannot use it"
        " (an unknown service, or a malformed URL for it)",
        f"{config}:5: receiver 'am': url must be an http(s) URL with a host",
    ]
