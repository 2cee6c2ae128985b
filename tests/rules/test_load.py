"""Rule files: the language's errors, each as file:line, and the shipped pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.compose import MAX_FILE_BYTES
from monitor.errors import ConfigError
from monitor.model import Item
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules
from monitor.rules.query import Term
from monitor.rules.reload import RuleWatcher

ROOT = Path(__file__).parents[2]


def problems(tmp_path: Path, **files: str) -> list[str]:
    paths = []
    for name, text in files.items():
        (path := tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
        paths.append(str(path))
    with pytest.raises(ConfigError) as caught:
        load_rules(paths)
    return [str(p) for p in caught.value.problems]


def test_every_problem_with_file_and_line(tmp_path: Path) -> None:
    got = problems(
        tmp_path,
        a="rules:\n"
        "  - {name: ok, query: x}\n"
        "  - name: bad-severity\n"
        "    query: y\n"
        "    severity: urgent\n"
        "  - name: typo\n"
        "    qeury: z\n",
        b="rules:\n  - {name: ok, keywords: [w]}\n",
    )
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert f"{a}:5: rule.severity: expected low | medium | high | critical, got 'urgent'" in got[0]
    assert f"{a}:7: rule: unknown key 'qeury' (did you mean 'query'?)" in got
    assert f"{a}:6: rule 'typo': needs either 'query' or 'keywords'" in got
    assert f"{b}:2: rule name 'ok' already used at {a}:2" in got


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("Lightning II", "query column 11: expected AND, OR or ')', found 'II'"),
        ("(S-400 OR F-35", "query column 15: expected ')' to close '(' at column 1"),
        ("S-400 AND", "query column 10: expected a term, NOT or '('"),
        ("S-400 OR OR F-35", "query column 10: expected a term, NOT or '(', found 'OR'"),
        ('"S-400', "query column 1: unclosed quote"),
        ("S-400)", "query column 6: unbalanced ')'"),
        ("NOT S-400", "query matches items that contain none of its terms"),
        ("x~20", "query column 1: fuzzy threshold must be from 50 to 100"),
        ("'--'", "term \"'--'\" has no letters or digits"),
    ],
)
def test_query_errors_name_line_and_column(tmp_path: Path, query: str, message: str) -> None:
    text = f"rules:\n  - name: r\n    query: {query!r}\n".replace("\"'--'\"", "\"'--'\"")
    (got,) = problems(tmp_path, q=text)
    assert got.startswith(f"{tmp_path / 'q.yaml'}:3: rule 'r': "), got
    assert message in got


def test_entity_problems(tmp_path: Path) -> None:
    got = problems(
        tmp_path,
        a="entities:\n  - {name: S-400}\n  - {aliases: [x]}\n  - {name: S400, fuzzy: 20}\n",
    )
    path = tmp_path / "a.yaml"
    assert f"{path}:3: entity needs a 'name'" in got
    assert any(p.startswith(f"{path}:4: entity.fuzzy: expected a number from 50") for p in got)
    assert f"{path}:4: entity 'S400' already defined at {path}:2" in got


def test_entities_are_shared_across_packs(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(
        "entities:\n  - {name: F-35, aliases: [Lightning II]}\n", encoding="utf-8"
    )
    (tmp_path / "r.yaml").write_text("rules:\n  - {name: f35, query: F35}\n", encoding="utf-8")
    engine = Engine(load_rules([str(tmp_path / "e.yaml"), str(tmp_path / "r.yaml")]))
    item = Item(id="1", feed_url="u", feed="f", source="s", title="Lightning II lands")
    assert [h.rule for h in engine.match(item)] == ["f35"]


def test_shipped_rule_pack_loads_and_covers_the_story() -> None:
    rules = load_rules([str(ROOT / "rules" / "defense.yaml")])
    assert {"s400", "f35", "patriot", "sanctions", "turkey-leadership",
            "technology-transfer", "turkey-air-defence"} <= {r.name for r in rules}  # fmt: skip
    engine = Engine(rules)
    item = Item(id="1", feed_url="u", feed="f", source="s",
                title="Ankara’s S‑400s: Erdogn rejects sanctoins", summary="")  # fmt: skip
    assert {h.rule for h in engine.match(item)} == {
        "s400", "turkey-leadership", "sanctions", "turkey-air-defence"
    }  # fmt: skip


def test_watcher_sees_edits_new_and_removed_files(tmp_path: Path) -> None:
    (a := tmp_path / "a.yaml").write_text("rules:\n  - {name: a, query: x}\n", encoding="utf-8")
    watcher = RuleWatcher([str(tmp_path / "*.yaml")])
    assert not watcher.changed()
    (b := tmp_path / "b.yaml").write_text("rules:\n  - {name: b, query: y}\n", encoding="utf-8")
    assert watcher.changed()
    assert [r.name for r in watcher.reload().rules] == ["a", "b"]
    b.unlink()
    assert watcher.changed()
    a.write_text("rules:\n  - {name: a, query: 'x AND'}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{a}:2: rule 'a': query column"):
        watcher.reload()
    assert not watcher.changed()  # a bad file is tried again only when it changes
    assert watcher.first_report("e1") and not watcher.first_report("e1")


def test_labels_must_be_text_not_yaml_booleans_or_nulls(tmp_path: Path) -> None:
    got = problems(
        tmp_path,
        a="rules:\n"
        "  - name: flow\n"
        "    query: S-400\n"
        "    labels: {urgent: yes, desk: null, ok: 'yes'}\n"
        "  - name: block\n"
        "    query: F-35\n"
        "    labels:\n"
        "      desk: defence\n"
        "      tier: 010\n"
        "      on: call\n"
        "      team:\n"
        "      topics: [a, b]\n",
    )
    path = tmp_path / "a.yaml"
    assert got == [
        f"{path}:4: rule 'flow': label 'urgent': value 'yes' is read as true, not as text; "
        'quote it: urgent: "yes"',
        f"{path}:4: rule 'flow': label 'desk': value 'null' is read as null (no value), "
        'not as text; quote it: desk: "null"',
        f"{path}:9: rule 'block': label 'tier': value '010' is read as the int 8, not as text; "
        'quote it: tier: "010"',
        f"{path}:10: rule 'block': label name 'on' is read as true, not as text; quote it",
        f"{path}:11: rule 'block': label 'team' has no value; write team: \"...\"",
        f"{path}:12: rule 'block': label 'topics': expected a text value, got a list",
    ]


def test_quoted_labels_load_as_written(tmp_path: Path) -> None:
    (path := tmp_path / "a.yaml").write_text(
        "rules:\n  - name: r\n    query: S-400\n"
        "    labels: {urgent: 'yes', desk: \"null\", tier: '010', team: defence}\n",
        encoding="utf-8",
    )
    (rule,) = load_rules([str(path)])
    assert rule.labels == (
        ("desk", "null"),
        ("team", "defence"),
        ("tier", "010"),
        ("urgent", "yes"),
    )
    item = Item(id="1", feed_url="u", feed="f", source="s", title="S-400 news")
    (hit,) = Engine([rule]).match(item)
    assert dict(hit.labels)["urgent"] == "yes"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            "[desk, defence]",
            "rule 'r': labels: expected a mapping of label names to values, got a list",
        ),
        ("{desk: a, desk: b}", "rule 'r': label 'desk' given twice"),
    ],
)
def test_labels_shape(tmp_path: Path, labels: str, message: str) -> None:
    (got,) = problems(tmp_path, a=f"rules:\n  - name: r\n    query: x\n    labels: {labels}\n")
    assert got == f"{tmp_path / 'a.yaml'}:4: {message}"


def test_deep_nesting_is_a_problem_not_a_recursion_error(tmp_path: Path) -> None:
    fine = "(" * 50 + "S-400" + ")" * 50
    (tmp_path / "ok.yaml").write_text(f"rules:\n  - name: r\n    query: '{fine}'\n", "utf-8")
    assert [r.name for r in load_rules([str(tmp_path / "ok.yaml")])] == ["r"]
    got = problems(
        tmp_path,
        a="rules:\n  - name: parens\n    query: '" + "(" * 600 + "x" + ")" * 600 + "'\n"
        "  - name: nots\n    query: 'x AND " + "NOT " * 51 + "y'\n",
    )
    path = tmp_path / "a.yaml"
    assert got == [
        f"{path}:3: rule 'parens': query column 51: nested more than 50 deep "
        "(parentheses and NOT); simplify the query",
        f"{path}:5: rule 'nots': query column 207: nested more than 50 deep "
        "(parentheses and NOT); simplify the query",
    ]


@pytest.mark.parametrize("depth", [600, 5000])  # past Python's recursion limit; libyaml's
def test_a_file_nested_too_deeply_for_yaml_is_a_problem(tmp_path: Path, depth: int) -> None:
    got = problems(
        tmp_path, a="rules: " + "[" * depth + "]" * depth + "\n", b="rules: [{name: b, query: x}]\n"
    )
    (problem,) = got
    assert problem.startswith(f"{tmp_path / 'a.yaml'}:"), problem
    assert "nested too deeply to read" in problem


def test_an_unexpected_error_names_the_file_and_keeps_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("monitor.rules.load.parse", broken)
    (path := tmp_path / "a.yaml").write_text(
        "rules:\n  - {name: a, keywords: [x]}\n  - {name: b, query: y}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_rules([str(path)])
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3: internal error, please report it: RuntimeError: boom"
    ]
    assert isinstance(caught.value.__cause__, RuntimeError)  # a bug keeps its traceback


def laughs(levels: int, key: str = "aliases") -> str:
    """A rule file whose entity's aliases are ``levels`` lists of nine aliases of the
    list before: 9**levels strings once expanded ("billion laughs" at 9 levels)."""
    lines = ["entities:", "  - name: Boom", f"    {key}:"]
    lines.append("      - &l0 [" + ", ".join(["lol"] * 9) + "]")
    lines += [f"      - &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join([*lines, "rules:", "  - {name: boom, query: Boom}"]) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_goes_over(tmp_path: Path) -> None:
    got = problems(tmp_path, a=laughs(6), b="rules: [{name: b, query: x}]\n")
    assert got == [
        f"{tmp_path / 'a.yaml'}:9: invalid YAML: alias *l4 expands to 66,430 nodes"
        " (anchor &l4 at line 8), taking the document past 100,000 nodes added by aliases;"
        " aliases of aliases grow exponentially: write the values out, or use fewer"
    ]


def test_aliases_within_the_budget_are_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "entities:\n"
        "  - {name: Gripen, aliases: &saab [JAS 39, Saab 39]}\n"
        "  - {name: Gripen E, aliases: *saab}\n"
        "rules:\n  - {name: r, query: '\"Gripen E\"', labels: &desk {desk: air}}\n"
        "  - {name: s, query: Gripen, labels: *desk}\n",
        encoding="utf-8",
    )
    r, s = load_rules([str(path)])
    assert isinstance(r.query, Term) and isinstance(s.query, Term)
    assert [f.text for f in r.query.forms] == ["Gripen E", "JAS 39", "Saab 39"]
    assert r.labels == s.labels == (("desk", "air"),)


def test_an_alias_inside_its_own_anchor_is_a_problem(tmp_path: Path) -> None:
    (got,) = problems(tmp_path, a="entities:\n  - name: X\n    aliases: &a [x, *a]\n")
    assert got == (
        f"{tmp_path / 'a.yaml'}:3: invalid YAML: alias *a is inside the node its anchor &a"
        " (line 3) marks: a value cannot contain itself"
    )


def test_a_rule_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    entry = b"  - {name: r%07d, query: x}\n"
    path.write_bytes(b"rules:\n" + b"".join(entry % n for n in range(MAX_FILE_BYTES // 27 + 1)))
    assert path.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(ConfigError) as caught:
        load_rules([str(path)])
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:0: rule file is over 8 MiB, the limit for one file; split it into several"
        " rule files (entities are shared by all of them)"
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "rules:\n  - name: r\n\tquery: x\n",
            3,
            "a tab character at column 1: YAML indents with spaces only",
        ),
        (
            "rules:\n  - name: r\n    query: x\n   severity: high\n",
            4,
            "this line is indented differently from the lines around it"
            " (a key at column 4 where column 5, 3 or 1 was expected)",
        ),
        (
            'rules:\n  - name: r\n    query: "F-35 game" OR Gripen\n',
            3,
            "text after the closing quote at column 22: a value that starts with a quote"
            " ends there; quote the whole value: query: '\"F-35 game\" OR Gripen'",
        ),
        (
            "rules:\n  - name: r\n    query: Gripen AND note: x\n",
            3,
            "a second ': ' at column 27: a value that contains ': ' must be quoted"
            ' (query: "...")',
        ),
        (
            "entities:\n  - name: X\n    aliases: [a, b\nrules: []\n",
            3,
            "the '[' at column 14 is never closed: a ']' is missing (YAML read on to line 4)",
        ),
    ],
)
def test_yaml_mistakes_in_a_rule_file_in_plain_words(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    (got,) = problems(tmp_path, a=text)
    assert got == f"{tmp_path / 'a.yaml'}:{line}: invalid YAML: {message}"
