"""The REST API (JSON), described by the OpenAPI document at ``/api/openapi.json``.
Every page of the UI shows what one of these answers (the same functions build both).

    GET    /api/stories                   ?rule= &severity= &entity= &receiver= &q= &limit=
    GET    /api/stories/{story_id}        the audit: members, why each joined, evidence, sends
    GET    /api/feeds                     ?host=
    GET    /api/alerts                    ?state=open|pending|failing|dead|muted|sent|all &receiver=
    POST   /api/alerts/{alert_id}/retry
    GET    /api/rules
    POST   /api/rules/test                {"title": ..., "text": ...}
    GET    /api/silences                  ?all=true
    POST   /api/silences                  {"matchers": [...], "duration": "2h", "author", "comment"}
    DELETE /api/silences/{silence_id}     expire it now
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from monitor.web import alerts, feeds, openapi, rules, silences, stories
from monitor.web.desk import Desk, Problem

DESK = web.AppKey("desk", Desk)
MAX_BODY = 256 * 1024  # bytes of a JSON request body
ApiHandler = Callable[[web.Request, Desk], Awaitable[Any]]


def api(fn: ApiHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A JSON handler: its result as JSON; a Problem as {"error", "message", "field"}."""

    @wraps(fn)
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            result = await fn(request, request.app[DESK])
        except Problem as exc:
            return problem(exc)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, dumps=_dumps)

    return handler


def problem(exc: Problem) -> web.Response:
    body = {"error": _ERRORS.get(exc.status, "bad_request"), "message": exc.message,
            "field": exc.field}  # fmt: skip
    return web.json_response(body, status=exc.status, dumps=_dumps)


_ERRORS = {400: "bad_request", 404: "not_found", 409: "conflict", 413: "too_large",
           415: "unsupported_media_type", 503: "unavailable"}  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def body(request: web.Request) -> dict[str, Any]:
    """The JSON object a POST carries; Problem(400/413/415) if it is not one."""
    if request.content_type != "application/json":
        raise Problem(415, "expected Content-Type: application/json")
    if (request.content_length or 0) > MAX_BODY:
        raise Problem(413, f"the body is over {MAX_BODY} bytes")
    try:
        raw = await request.read()  # bounded by the server's client_max_size too
    except web.HTTPRequestEntityTooLarge:
        raise Problem(413, f"the body is over {MAX_BODY} bytes") from None
    if len(raw) > MAX_BODY:
        raise Problem(413, f"the body is over {MAX_BODY} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Problem(400, "expected a JSON object")
    return data


@api
async def get_stories(request: web.Request, desk: Desk) -> Any:
    wanted = stories.StoryFilter.of(request.query)
    tag = f'W/"{stories.changed(desk)}"'
    if request.headers.get("If-None-Match") == tag:
        return web.Response(status=304, headers={"ETag": tag})
    response = web.json_response(stories.story_list(desk, wanted), dumps=_dumps)
    response.headers["ETag"] = tag
    return response


@api
async def get_story(request: web.Request, desk: Desk) -> Any:
    return stories.audit(desk, request.match_info["story_id"])


@api
async def get_feeds(request: web.Request, desk: Desk) -> Any:
    return feeds.feed_list(desk, request.query.get("host") or None)


@api
async def get_alerts(request: web.Request, desk: Desk) -> Any:
    return alerts.alert_list(desk, request.query)


@api
async def retry_alert(request: web.Request, desk: Desk) -> Any:
    return alerts.retry(desk, request.match_info["alert_id"])


@api
async def get_rules(request: web.Request, desk: Desk) -> Any:
    return rules.rule_list(desk)


@api
async def test_rules(request: web.Request, desk: Desk) -> Any:
    return rules.test(desk, await body(request))


@api
async def get_silences(request: web.Request, desk: Desk) -> Any:
    return silences.silence_list(desk, request.query.get("all", "") in ("1", "true", "yes"))


@api
async def post_silence(request: web.Request, desk: Desk) -> Any:
    created = await silences.create(desk, await body(request))
    return web.json_response(created, status=201, dumps=_dumps)


@api
async def delete_silence(request: web.Request, desk: Desk) -> Any:
    return await silences.expire(desk, request.match_info["silence_id"])


async def get_openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi.DOCUMENT, dumps=_dumps)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/openapi.json", get_openapi)
    router.add_get("/api/stories", get_stories)
    router.add_get("/api/stories/{story_id}", get_story)
    router.add_get("/api/feeds", get_feeds)
    router.add_get("/api/alerts", get_alerts)
    router.add_post("/api/alerts/{alert_id}/retry", retry_alert)
    router.add_get("/api/rules", get_rules)
    router.add_post("/api/rules/test", test_rules)
    router.add_get("/api/silences", get_silences)
    router.add_post("/api/silences", post_silence)
    router.add_delete("/api/silences/{silence_id}", delete_silence)
