"""The copy tier's exact keys: one article's http, https and AMP addresses are one key."""

from __future__ import annotations

import pytest

from monitor.dedup.keys import exact_keys, link_key, story_id
from monitor.model import Item

ARTICLE = "https://www.reuters.com/world/europe/russia-delivers-s-400-2025-05-06/"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (ARTICLE, ARTICLE.replace("https://", "http://")),
        (ARTICLE, ARTICLE.replace("www.", "")),
        ("https://www.theguardian.com/uk/2025/may/05/x", "https://amp.theguardian.com/uk/2025/may/05/x"),
        ("https://www.dawn.com/news/1915985/pakistan", "https://www.dawn.com/news/amp/1915985/pakistan"),
        ("https://example.com/a/story", "https://example.com/a/story/amp"),
        ("https://example.com/a/story", "https://example.com/a/story.amp"),
        ("https://example.com/a/story", "https://example.com/a/story?outputType=amp"),
        ("https://example.com/a/story?id=7", "https://example.com/a/story?id=7&amp=1"),
        ("https://toi.example/india/x/articleshow/120800132.cms",
         "https://toi.example/india/x/amp_articleshow/120800132.cms"),
    ],
)  # fmt: skip
def test_http_https_and_amp_forms_are_one_article(one: str, other: str) -> None:
    assert link_key(one) == link_key(other)


def test_other_articles_and_other_queries_stay_apart() -> None:
    assert link_key("https://example.com/a/story?id=7") != link_key(
        "https://example.com/a/story?id=8"
    )
    assert link_key("https://example.com/a/amplifier") != link_key("https://example.com/a")
    assert link_key("https://example.com/a/1") != link_key("https://example.org/a/1")


def item(link: str | None = None, guid: str | None = None, feed: str = "f") -> Item:
    return Item(id=guid or link or "x", feed_url=f"https://{feed}.example/rss", feed=feed,
                source=feed, title="t", link=link, guid=guid)  # fmt: skip


def test_exact_keys_and_the_story_id_fold_the_link() -> None:
    http, amp = item(ARTICLE.replace("https", "http"), feed="a"), item(ARTICLE + "amp/", feed="b")
    assert set(exact_keys(http)) & set(exact_keys(amp))
    assert story_id(http) == story_id(amp)


def test_a_short_guid_is_unique_only_within_its_feed() -> None:
    one, two = item(guid="1234", feed="a"), item(guid="1234", feed="b")
    assert not set(exact_keys(one)) & set(exact_keys(two))
    urn = "urn:newsml:reuters.com:20190827:nL8N25N1RX"
    assert set(exact_keys(item(guid=urn, feed="a"))) & set(exact_keys(item(guid=urn, feed="b")))


def test_a_link_whose_port_is_no_number_is_its_own_key() -> None:
    """urlsplit reads such a link but its port raises: the key must not (a match whose
    link is malformed still gets a story)."""
    assert link_key("http://example.com:x80/a") == "http://example.com:x80/a"
    assert link_key("https://Example.COM:8443/a/amp") == "example.com:8443/a"
    assert link_key("HTTPS://WWW.Example.com") == "example.com/"
