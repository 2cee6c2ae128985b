"""The pages: each shows what the API answers (the same functions build both), and
each form posts to a page route that calls what the API's POST calls, then
redirects (POST-redirect-GET) with a notice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from monitor.web import alerts, feeds, rules, silences, stories
from monitor.web.api import DESK
from monitor.web.desk import Desk, Problem
from monitor.web.render import page
from monitor.web.security import COOKIE, Guard, set_cookie

GUARD = web.AppKey("guard", Guard)
PageHandler = Callable[[web.Request, Desk], Awaitable[web.StreamResponse]]
NOTICES = {"retried": "Alert {} is back in the queue, due now.",
           "silenced": "Silence {} created.", "expired": "Silence {} expired."}  # fmt: skip


def html(fn: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page handler; a Problem renders as an error page with its status."""

    @wraps(fn)
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request, request.app[DESK])
        except Problem as exc:
            return page(request, "error.html", exc.status, code=exc.status, message=exc.message)

    return handler


def notice(request: web.Request) -> str | None:
    kind, _, ident = request.query.get("done", "").partition(":")
    return NOTICES[kind].format(ident) if kind in NOTICES else None


def _query(request: web.Request, *keys: str) -> str:
    return urlencode({k: v for k in keys if (v := request.query.get(k))})


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/stories")


@html
async def stories_page(request: web.Request, desk: Desk) -> web.StreamResponse:
    data = stories.story_list(desk, stories.StoryFilter.of(request.query))
    live = "/api/stories?" + _query(request, "rule", "severity", "entity", "receiver", "q",
                                    "limit")  # fmt: skip
    return page(request, "stories.html", data=data, live_url=live, notice=notice(request))


@html
async def story_page(request: web.Request, desk: Desk) -> web.StreamResponse:
    return page(request, "story.html", s=stories.audit(desk, request.match_info["story_id"]))


@html
async def feeds_page(request: web.Request, desk: Desk) -> web.StreamResponse:
    return page(request, "feeds.html", data=feeds.feed_list(desk, request.query.get("host")))


@html
async def alerts_page(request: web.Request, desk: Desk) -> web.StreamResponse:
    data = alerts.alert_list(desk, request.query)
    return page(request, "alerts.html", data=data, notice=notice(request))


@html
async def retry_form(request: web.Request, desk: Desk) -> web.StreamResponse:
    alert_id = request.match_info["alert_id"]
    alerts.retry(desk, alert_id)
    view = str((await request.post()).get("state", "open"))
    back = urlencode({"state": view if view in alerts.VIEWS else "open",
                      "done": f"retried:{alert_id}"})  # fmt: skip
    raise web.HTTPSeeOther(f"/alerts?{back}")


@html
async def rules_page(request: web.Request, desk: Desk) -> web.StreamResponse:
    tested = None
    error = None
    if request.method == "POST":
        form = await request.post()
        try:
            tested = rules.test(desk, {k: str(form.get(k, "")) for k in ("title", "text")})
        except Problem as exc:
            error = exc.message
    return page(request, "rules.html", data=rules.rule_list(desk), tested=tested, error=error)


def _silence_form(request: web.Request, values: dict[str, Any] | None = None) -> dict[str, str]:
    story = request.query.get("story")
    form = {"matchers": f"story={story}" if story else "", "duration": "2h", "author": "",
            "comment": ""}  # fmt: skip
    form.update({k: str(v) for k, v in (values or {}).items() if k in form})
    return form


@html
async def silences_page(request: web.Request, desk: Desk) -> web.StreamResponse:
    data = silences.silence_list(desk, bool(request.query.get("all")))
    return page(request, "silences.html", data=data, form=_silence_form(request),
                notice=notice(request))  # fmt: skip


@html
async def create_silence(request: web.Request, desk: Desk) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        made = await silences.create(desk, form)
    except Problem as exc:
        data = silences.silence_list(desk)
        return page(request, "silences.html", exc.status, data=data, error=exc.message,
                    form=_silence_form(request, form))  # fmt: skip
    raise web.HTTPSeeOther(f"/silences?done=silenced:{made['silence_id']}")


@html
async def expire_silence(request: web.Request, desk: Desk) -> web.StreamResponse:
    gone = await silences.expire(desk, request.match_info["silence_id"])
    raise web.HTTPSeeOther(f"/silences?done=expired:{gone['silence_id']}")


async def login_page(request: web.Request) -> web.StreamResponse:
    guard = request.app[GUARD]
    wanted = _next(request.query.get("next"))
    if guard.token is None:
        raise web.HTTPSeeOther(wanted)
    if request.method == "GET":
        return page(request, "login.html", next=wanted)
    form = await request.post()
    if not guard.login(str(form.get("token", ""))):
        return page(request, "login.html", 401, next=_next(str(form.get("next", ""))),
                    error="That is not the token.")  # fmt: skip
    response = web.HTTPSeeOther(_next(str(form.get("next", ""))))
    cookie, _ = guard.sessions.new()
    set_cookie(request, response, cookie, guard.sessions.ttl)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login" if request.app[GUARD].token else "/stories")
    response.del_cookie(COOKIE, path="/")
    raise response


def _next(target: str | None) -> str:
    """A place on this server to go back to: a path, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/stories"
    return target


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", index)
    router.add_get("/stories", stories_page)
    router.add_get("/stories/{story_id}", story_page)
    router.add_get("/feeds", feeds_page)
    router.add_get("/alerts", alerts_page)
    router.add_post("/alerts/{alert_id}/retry", retry_form)
    router.add_get("/rules", rules_page)
    router.add_post("/rules", rules_page)
    router.add_get("/silences", silences_page)
    router.add_post("/silences", create_silence)
    router.add_post("/silences/{silence_id}/expire", expire_silence)
    router.add_route("GET", "/login", login_page)
    router.add_post("/login", login_page)
    router.add_post("/logout", logout)
