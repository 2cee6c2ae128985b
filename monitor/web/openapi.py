"""The OpenAPI 3.1 document of the REST API, served at ``/api/openapi.json``.

Every object is closed (``additionalProperties: false``) and every field required,
so the document is the exact shape of what the API answers (``tests/web`` checks each
route against it).
"""

from __future__ import annotations

from typing import Any

from monitor import __version__

Schema = dict[str, Any]


def obj(properties: dict[str, Schema]) -> Schema:
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}  # fmt: skip


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def many(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = nullable({"type": "string", "format": "date-time"})
OPT_STR: Schema = nullable(STR)
STRS: Schema = many(STR)
LABELS: Schema = {"type": "object", "additionalProperties": STR}

# fmt: off
SUMMARY = {
    "story_id": STR, "version": INT, "title": STR, "link": OPT_STR, "source": STR,
    "severity": STR, "rules": STRS, "outlets": STRS, "outlet_count": INT, "members": INT,
    "entities": STRS, "receivers": STRS, "first_seen": TIME, "updated": TIME,
}
SCHEMAS: dict[str, Schema] = {
    "Problem": {**obj({"error": STR, "message": STR, "field": OPT_STR}),
                "required": ["error", "message"]},
    "Evidence": obj({"term": STR, "field": STR, "text": STR, "start": INT, "end": INT,
                     "score": NUM}),
    "RuleHit": obj({"rule": STR, "severity": STR, "labels": LABELS,
                    "evidence": many(ref("Evidence"))}),
    "StorySummary": obj(SUMMARY),
    "StoryList": obj({
        "stories": many(ref("StorySummary")), "total": INT, "in_window": INT,
        "filters": obj({"rule": OPT_STR, "severity": OPT_STR, "entity": OPT_STR,
                        "receiver": OPT_STR, "q": OPT_STR, "limit": INT}),
        "facets": obj({"rules": STRS, "severities": STRS, "entities": STRS, "receivers": STRS}),
    }),
    "Member": obj({
        "seq": INT, "item_id": STR, "source": STR, "title": STR, "link": OPT_STR,
        "published": TIME, "at": TIME, "tier": {"enum": ["first", "copy", "event"]},
        "score": NUM, "matched": OPT_STR, "matched_seq": nullable(INT), "why": STR,
        "rules": STRS, "evidence": many(ref("RuleHit")),
    }),
    "Send": obj({
        "alert_id": STR, "kind": {"enum": ["alert", "sync"]}, "event": STR, "mode": OPT_STR,
        "version": nullable(INT), "state": {"enum": ["pending", "sent", "dead", "muted"]},
        "attempts": INT, "last_error": OPT_STR, "muted_by": OPT_STR, "created": TIME,
        "updated": TIME,
    }),
    "Delivery": obj({
        "receiver": STR, "sends": many(ref("Send")),
        "told": nullable(obj({"shown": INT, "told": INT, "told_at": TIME})),
    }),
    "StoryAudit": obj({
        **SUMMARY, "members": many(ref("Member")), "member_count": INT,
        "near_miss": nullable(obj({"story_id": STR, "member": STR, "score": NUM, "veto": STR})),
        "evidence": many(ref("RuleHit")), "deliveries": many(ref("Delivery")),
    }),
    "Feed": obj({
        "url": STR, "name": STR, "host": STR, "title": OPT_STR,
        "status": {"enum": ["ok", "failing", "pending"]}, "reason": OPT_STR, "detail": OPT_STR,
        "last_status": nullable(INT), "last_poll": TIME, "last_success": TIME,
        "next_poll": TIME, "interval": nullable(NUM), "items_per_day": nullable(NUM),
        "consecutive_errors": INT, "truncated": INT,
    }),
    "FeedList": obj({
        "feeds": many(ref("Feed")),
        "hosts": many(obj({"host": STR, "feeds": INT, "ok": INT, "failing": INT,
                           "pending": INT, "reasons": STRS})),
        "counts": obj({"failing": INT, "pending": INT, "ok": INT}), "host": OPT_STR,
    }),
    "Alert": obj({
        "alert_id": STR, "story_id": STR, "receiver": STR, "kind": {"enum": ["alert", "sync"]},
        "state": {"enum": ["pending", "sent", "dead", "muted"]},
        "status": {"enum": ["pending", "failing", "sent", "dead", "muted"]}, "title": STR,
        "event": STR, "attempts": INT, "due": TIME, "created": TIME, "updated": TIME,
        "last_error": OPT_STR, "retryable": BOOL,
    }),
    "AlertList": obj({
        "alerts": many(ref("Alert")), "state": STR, "receiver": OPT_STR,
        "counts": obj({"open": INT, "pending": INT, "failing": INT, "dead": INT, "muted": INT,
                       "sent": INT}),
        "receivers": STRS,
    }),
    "Rule": obj({
        "name": STR, "severity": STR, "labels": LABELS, "query": STR, "fields": STR,
        "min_terms": INT, "file": OPT_STR, "matches": nullable(INT), "stories": INT,
    }),
    "RuleList": obj({"rules": many(ref("Rule")), "count": INT}),
    "RuleTest": obj({
        "title": STR, "text": STR, "matched": STRS,
        "rules": many(obj({"rule": STR, "matched": BOOL, "reason": STR, "found": STRS,
                           "hit": nullable(ref("RuleHit"))})),
    }),
    "RuleTestRequest": {
        "type": "object", "required": ["title"], "additionalProperties": False,
        "properties": {"title": {"type": "string", "maxLength": 2000},
                       "text": {"type": "string", "maxLength": 65536}},
    },
    "Silence": obj({
        "silence_id": STR, "matchers": STRS, "starts": TIME, "ends": TIME, "author": STR,
        "comment": STR, "created": TIME, "state": {"enum": ["active", "pending", "expired"]},
    }),
    "SilenceList": obj({"silences": many(ref("Silence")), "all": BOOL}),
    "SilenceRequest": {
        "type": "object", "required": ["matchers", "author", "comment"],
        "additionalProperties": False,
        "properties": {
            "matchers": {"type": "array", "items": STR, "minItems": 1, "maxItems": 20,
                         "description": "label op value: story=ID, rule=NAME, entity=~\"S-.*\""},
            "duration": {"type": "string", "description": "how long: 30m, 2h, 1d (default 2h)"},
            "ends": {"type": "string", "format": "date-time", "description": "or when it ends"},
            "author": STR, "comment": STR,
        },
    },
}
# fmt: on


def _query(name: str, description: str, schema: Schema = STR) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STR}


def _json(name: str, description: str = "OK") -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": ref(name)}}}  # fmt: skip


def _op(summary: str, ok: Schema, *errors: int, params: list[Schema] | None = None,
        body: str | None = None, status: str = "200") -> Schema:  # fmt: skip
    responses: dict[str, Schema] = {status: ok, "401": _json("Problem", "no or a wrong token")}
    for code in errors:
        responses[str(code)] = _json("Problem", _WHY[code])
    op: Schema = {"summary": summary, "parameters": params or [], "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": ref(body)}}}  # fmt: skip
    return op


def _etag(op: Schema) -> Schema:
    op["description"] = "Answers an ETag; asked with If-None-Match while nothing changed, 304."
    op["parameters"].append({"name": "If-None-Match", "in": "header", "required": False,
                             "schema": STR})  # fmt: skip
    op["responses"]["304"] = {"description": "unchanged since that ETag"}
    return op


# fmt: off
_WHY = {400: "a bad value (named in field)", 403: "a cross-site request",
        404: "no such thing", 409: "not in a state for it", 413: "the body is too large",
        415: "not application/json",
        503: "kafka mode: the group's silences topic did not take it"}
_LIMIT = {"type": "string", "pattern": "^[0-9]+$"}
STORY_FILTERS = [
    _query("rule", "stories that matched this rule"),
    _query("severity", "low | medium | high | critical"),
    _query("entity", "stories whose rules matched this term (case-insensitive)"),
    _query("receiver", "stories that went to this receiver"),
    _query("q", "a word or phrase of any member's title (case-insensitive)"),
    _query("limit", "at most this many (1-1000, default 200)", _LIMIT),
]
PATHS: dict[str, Schema] = {
    "/api/openapi.json": {"get": _op("This document", {
        "description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}})},
    "/api/stories": {"get": _etag(_op(
        "The stories of the window, the latest update first", _json("StoryList"), 400,
        params=STORY_FILTERS))},
    "/api/stories/{story_id}": {"get": _op(
        "One story's audit: members, why each joined, evidence, alerts and updates sent",
        _json("StoryAudit"), 404, params=[_path("story_id")])},
    "/api/feeds": {"get": _op("Every feed's health, failing first; and per host",
                              _json("FeedList"), params=[_query("host", "only this host")])},
    "/api/alerts": {"get": _op(
        "The outbox", _json("AlertList"), 400, params=[
            _query("state", "open (default) | pending | failing | dead | muted | sent | all"),
            _query("receiver", "only this receiver"),
            _query("limit", "at most this many (1-1000, default 200)", _LIMIT)])},
    "/api/alerts/{alert_id}/retry": {"post": _op(
        "Put a dead or failing alert back in the queue, due now (kafka mode: on the daemon"
        " delivering to its receiver; 409 elsewhere)", _json("Alert"), 403, 404, 409,
        params=[_path("alert_id")])},
    "/api/rules": {"get": _op("The live rules, with their match counts", _json("RuleList"))},
    "/api/rules/test": {"post": _op(
        "What each rule makes of a headline and text, and why (nothing is stored)",
        _json("RuleTest"), 400, 403, 413, 415, body="RuleTestRequest")},
    "/api/silences": {
        "get": _op("Silences in force (all=true: expired ones too)", _json("SilenceList"),
                   params=[_query("all", "true: expired ones too")]),
        "post": _op("Create a silence", _json("Silence", "Created"), 400, 403, 413, 415, 503,
                    body="SilenceRequest", status="201"),
    },
    "/api/silences/{silence_id}": {"delete": _op(
        "Expire a silence now", _json("Silence"), 403, 404, 503,
        params=[_path("silence_id")])},
}
# fmt: on
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "newsmon",
        "version": __version__,
        "description": "Stories, feeds, alerts, rules and silences of a running newsmon. Off"
        " loopback every route needs `Authorization: Bearer <http.auth_token>`.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"token": []}, {}],
}
