"""The default templates say what the sinks said before there were templates.

``goldens/rendering.json`` was rendered by the sinks of commit 765727a (before
they were routed through templates) from the cases of ``rendering_cases.py``;
the sinks of today, whose words are now the default templates, must give the
same: the Slack payloads (posts, digests split in parts, follow-ups, a story's
message kept current), the mail subjects and plain parts, the console lines,
byte for byte. The HTML part is compared as a document (the same elements,
attributes and text, in order): the default template is laid out on lines so a
desk can read and copy it, and line breaks between tags are all it adds.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from rendering_cases import GOLDENS, cases, rendered

NOW = rendered()
BEFORE: dict[str, dict[str, Any]] = json.loads(GOLDENS.read_text("utf-8"))


class _Document(HTMLParser):
    """The tokens of an HTML document: tags with their attributes, and text with
    its white space collapsed (what a browser or mail client shows)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[Any, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(("end", tag))

    def handle_decl(self, decl: str) -> None:
        self.tokens.append(("decl", decl))

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text:
            return
        if self.tokens and self.tokens[-1][0] == "text":
            text = f"{self.tokens.pop()[1]} {text}"
        self.tokens.append(("text", text))


def document(markup: str) -> list[tuple[Any, ...]]:
    parser = _Document()
    parser.feed(markup)
    parser.close()
    return parser.tokens


def test_the_goldens_cover_every_case_and_every_shape() -> None:
    assert set(BEFORE) == set(cases()) and len(BEFORE) >= 13
    assert len(BEFORE["digest_13"]["slack"]) == 2  # a group in two Slack messages
    assert len(BEFORE["hostile_post"]["email"]) == 1


@pytest.mark.parametrize("case", sorted(cases()))
@pytest.mark.parametrize("part", ["slack", "slack_kept_current", "console"])
def test_slack_and_console_are_unchanged(case: str, part: str) -> None:
    assert NOW[case][part] == BEFORE[case][part]


@pytest.mark.parametrize("case", sorted(cases()))
def test_mail_subjects_and_text_parts_are_unchanged(case: str) -> None:
    now, before = NOW[case]["email"], BEFORE[case]["email"]
    assert [(m["subject"], m["text"]) for m in now] == [(m["subject"], m["text"]) for m in before]


@pytest.mark.parametrize("case", sorted(cases()))
def test_the_html_part_is_the_same_document(case: str) -> None:
    now, before = NOW[case]["email"], BEFORE[case]["email"]
    assert len(now) == len(before)
    for mail, old in zip(now, before, strict=True):
        assert document(mail["html"]) == document(old["html"])


def test_the_document_comparison_sees_a_changed_word_and_a_lost_escape() -> None:
    old = BEFORE["hostile_post"]["email"][0]["html"]
    assert "&lt;script&gt;" in old
    assert document(old.replace("Matched", "Found")) != document(old)
    assert document(old.replace("&lt;script&gt;", "<script>")) != document(old)
    assert document(old.replace("><", ">\n  <")) == document(old)
