"""Acceptance: the REST API answers as its OpenAPI document says, route by route, and
off loopback answers nothing without the token.

One daemon listens on 0.0.0.0 (off loopback: http.auth_token is required) and is
reached at 127.0.0.1. Every operation of ``/api/openapi.json`` is called, with good and
bad input; each request and each answer (status, content type, JSON shape: closed
objects, every field required) is checked against the document by openapi-core.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from feedserver import FeedServer
from multidict import CIMultiDict
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from webdesk import TOKEN, Desk, desk_daemon, until_async


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Checked:
    """Calls the API, checking each request and answer against the document."""

    def __init__(self, desk: Desk, doc: dict[str, Any]) -> None:
        self.desk, self.spec = desk, OpenAPI.from_dict(doc)
        self.called: set[tuple[str, str]] = set()  # (method, path pattern) answered 2xx

    async def __call__(
        self, method: str, pattern: str, *, path: dict[str, str] | None = None,
        query: dict[str, str] | None = None, body: Any = None, token: str | None = TOKEN,
        headers: dict[str, str] | None = None, raw: bytes | None = None,
        content_type: str = "application/json", expect: int = 200,
    ) -> Answer:  # fmt: skip
        url = pattern.format(**(path or {}))
        sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent["Content-Type"] = content_type
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.desk.base + url, params=query, data=data,
                            headers=sent, allow_redirects=False) as resp,
        ):  # fmt: skip
            answer = Answer(resp.status, CIMultiDict(resp.headers), await resp.read())
        assert answer.status == expect, (method, url, answer.status, answer.body[:300])
        request = MockRequest(self.desk.base, method, url, path_pattern=pattern, args=query,
                              view_args=path, headers=sent, data=data,
                              content_type=content_type)  # fmt: skip
        if 200 <= answer.status < 300 and token == TOKEN:
            self.spec.validate_request(request)
            self.called.add((method.lower(), pattern))
        if answer.status != 304:
            kind = answer.headers.get("Content-Type", "").split(";")[0]
            response = MockResponse(answer.body, answer.status, dict(answer.headers), kind)
            self.spec.validate_response(request, response)  # status documented, shape matches
        return answer


async def test_every_documented_route_answers_as_documented(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with desk_daemon(tmp_path, feed_server, host="0.0.0.0", token=TOKEN) as desk:
        doc = await desk.api("/api/openapi.json")
        call = Checked(desk, doc)
        await call("GET", "/api/openapi.json")
        await _stories(call)
        await _feeds(call, desk)
        await _alerts(call, desk)
        await _rules(call)
        await _silences(call)
        documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
        assert call.called == documented  # each answered 2xx at least once, as documented
        for method, pattern in sorted(documented):
            ids = {k: "x" for k in ("story_id", "alert_id", "silence_id") if f"{{{k}}}" in pattern}
            await call(method.upper(), pattern, path=ids, token=None, expect=401)
            await call(method.upper(), pattern, path=ids, token="wrong-" + TOKEN, expect=401)
        async with aiohttp.ClientSession() as session:
            for path in ("/metrics", "/healthz", "/readyz"):  # open to scrapes and probes
                async with session.get(desk.base + path) as resp:
                    assert resp.status == 200, path


async def _stories(call: Checked) -> None:
    listed = (await call("GET", "/api/stories")).json()
    assert listed["stories"] and listed["total"] == len(listed["stories"])
    first = listed["stories"][0]
    assert all(
        a["updated"] >= b["updated"]
        for a, b in zip(listed["stories"], listed["stories"][1:], strict=False)
    )
    rule = first["rules"][0]
    only = (await call("GET", "/api/stories", query={"rule": rule, "limit": "1"})).json()
    assert [s["story_id"] for s in only["stories"]] == [first["story_id"]] or only["total"] > 1
    assert all(rule in s["rules"] for s in only["stories"])
    word = first["title"].split()[-1]
    found = (await call("GET", "/api/stories", query={"q": word.upper()})).json()
    assert first["story_id"] in {s["story_id"] for s in found["stories"]}
    entity = (await call("GET", "/api/stories", query={"entity": "s-400"})).json()
    assert entity["stories"] and all("S-400" in s["entities"] for s in entity["stories"])
    soar = (await call("GET", "/api/stories", query={"receiver": "soar"})).json()
    assert soar["stories"] and all(s["receivers"] == ["soar"] for s in soar["stories"])
    assert all("f35" in s["rules"] for s in soar["stories"])
    await call("GET", "/api/stories", query={"severity": "urgent"}, expect=400)
    await call("GET", "/api/stories", query={"limit": "0"}, expect=400)
    etag = (await call("GET", "/api/stories")).headers["ETag"]
    await call("GET", "/api/stories", headers={"If-None-Match": etag}, expect=304)
    audit = await call("GET", "/api/stories/{story_id}", path={"story_id": first["story_id"]})
    assert audit.json()["members"][0]["why"] == "started the story"
    await call("GET", "/api/stories/{story_id}", path={"story_id": "no-such-story"}, expect=404)


async def _feeds(call: Checked, desk: Desk) -> None:
    async def failing() -> bool:
        feeds = (await call("GET", "/api/feeds")).json()["feeds"]
        return feeds[0]["name"] == "gone" and feeds[0]["status"] == "failing"

    await until_async(failing, "the 404 feed failing, listed first")
    hosts = (await call("GET", "/api/feeds", query={"host": "127.0.0.1"})).json()
    assert hosts["hosts"][0]["failing"] == 1 and hosts["counts"]["failing"] == 1
    none = (await call("GET", "/api/feeds", query={"host": "elsewhere.example"})).json()
    assert none["feeds"] == []


async def _alerts(call: Checked, desk: Desk) -> None:
    async def dead() -> bool:
        return bool((await call("GET", "/api/alerts", query={"state": "dead"})).json()["alerts"])

    await until_async(dead, "the soar alert dead-lettered")
    (alert,) = (await call("GET", "/api/alerts", query={"state": "dead"})).json()["alerts"]
    assert alert["retryable"] and alert["last_error"].startswith("http_4xx")
    sent = (await call("GET", "/api/alerts", query={"state": "sent", "limit": "1"})).json()
    done = {"alert_id": sent["alerts"][0]["alert_id"]}
    await call("POST", "/api/alerts/{alert_id}/retry", path=done, expect=409)
    await call("POST", "/api/alerts/{alert_id}/retry", path={"alert_id": "nope"}, expect=404)
    desk.hook_ok = True
    again = await call("POST", "/api/alerts/{alert_id}/retry", path={"alert_id": alert["alert_id"]})
    assert again.json()["state"] == "pending"

    async def delivered() -> bool:
        rows = await call("GET", "/api/alerts", query={"state": "sent", "receiver": "soar"})
        return alert["alert_id"] in {a["alert_id"] for a in rows.json()["alerts"]}

    await until_async(delivered, "the retried alert sent")
    await call("GET", "/api/alerts", query={"state": "everything"}, expect=400)
    for state in ("open", "pending", "failing", "muted", "all"):
        await call("GET", "/api/alerts", query={"state": state})


async def _rules(call: Checked) -> None:
    rules = (await call("GET", "/api/rules")).json()
    assert {"s400", "f35", "sanctions"} <= {r["name"] for r in rules["rules"]}
    s400 = next(r for r in rules["rules"] if r["name"] == "s400")
    assert s400["query"] == "S-400" and s400["matches"] >= 1 and s400["stories"] >= 1
    pasted = {"title": "Turkey gets its S400 Triumf", "text": "CAATSA looms"}
    tested = await call("POST", "/api/rules/test", body=pasted)
    verdicts = {v["rule"]: v for v in tested.json()["rules"]}
    assert verdicts["s400"]["matched"] and verdicts["sanctions"]["matched"]
    assert verdicts["f35"]["reason"] == "no term of the rule found"
    await call("POST", "/api/rules/test", body={"text": "no title"}, expect=400)
    await call("POST", "/api/rules/test", raw=b"title=x", content_type="text/plain", expect=415)
    await call("POST", "/api/rules/test", raw=b"{not json", expect=400)


async def _silences(call: Checked) -> None:
    made = await call("POST", "/api/silences", expect=201, body={
        "matchers": ["rule=sanctions", 'entity=~"S-.*"'], "duration": "30m",
        "author": "ana", "comment": "noisy today"})  # fmt: skip
    silence = made.json()
    assert silence["state"] == "active" and silence["matchers"][1] == "entity=~S-.*"
    listed = (await call("GET", "/api/silences")).json()["silences"]
    assert silence["silence_id"] in {s["silence_id"] for s in listed}
    for bad in ({"matchers": [], "author": "a", "comment": "c"},
                {"matchers": ["rule~x"], "author": "a", "comment": "c"},
                {"matchers": ["rule=x"], "author": "a", "comment": "c", "duration": "soon"},
                {"matchers": ["rule=x"], "comment": "c"}):  # fmt: skip
        answer = await call("POST", "/api/silences", body=bad, expect=400)
        assert answer.json()["field"] in ("matchers", "duration", "author")
    gone = await call(
        "DELETE", "/api/silences/{silence_id}", path={"silence_id": silence["silence_id"]}
    )
    assert gone.json()["state"] == "expired"
    await call("DELETE", "/api/silences/{silence_id}", path={"silence_id": silence["silence_id"]},
               expect=404)  # fmt: skip
    everything = (await call("GET", "/api/silences", query={"all": "true"})).json()
    assert silence["silence_id"] in {s["silence_id"] for s in everything["silences"]}
