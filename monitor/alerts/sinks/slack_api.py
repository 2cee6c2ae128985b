"""Slack through the Web API with a bot token (slack_sdk's AsyncWebClient).

* ``post``: ``chat.postMessage``; the receipt is ``{"channel", "ts"}`` (the
  channel's id, as Slack answers it), plus ``"digest": "N"`` when the message
  shows N > 1 alerts of a group.
* ``edit``: ``chat.update`` of that message, as the story stands now (its
  "N outlets · latest: ..." line current). A message that shows a digest is not
  edited (it would lose the other alerts); nor one that is gone.
* ``followup``: the same ``chat.update``, then a reply in the message's thread
  (``thread_ts``) with what is new; with ``followups: false`` only the update.
  A parent that is gone (deleted) gets the reply as a message of its own.
  The update goes first: it is idempotent, so a retry after a failed reply
  repeats nothing the channel sees twice.

slack_sdk's own retry handlers are off: newsmon's delivery loop retries, from
the :class:`DeliveryError` made here. HTTP 429 (or ``ratelimited``) ->
``http_429`` with ``Retry-After``; Slack's ``ok: false`` errors are classified:
auth and token errors, ``channel_not_found`` and other request errors fail for
good (``http_4xx``), ``internal_error``, ``fatal_error``, ``service_unavailable``
and ``request_timeout`` are retried (``http_5xx``). The detail carries Slack's
error code, the method and a hint, never the token. A batch is sent in order and
fails whole: a retry repeats what it had already posted, so the delivery loop
gives posts and updates in separate batches, a group's posts ``max_batch`` at a
time (one message each).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from monitor.alerts.sinks import slack_blocks
from monitor.alerts.sinks.base import Receipt, classify_http, part_of
from monitor.errors import DeliveryError
from monitor.model import Alert
from monitor.retry_after import parse_retry_after

log = logging.getLogger(__name__)

AUTH_ERRORS = frozenset({
    "not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired",
    "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied",
    "org_login_required", "team_access_not_granted", "access_denied",
})  # fmt: skip
RETRYABLE_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "thread_not_found"})
HINTS = {
    "channel_not_found": "check the channel option",
    "not_in_channel": "invite the bot to the channel",
    "is_archived": "the channel is archived",
    "invalid_blocks": "a message newsmon built was refused: please report it",
}
_CODE = re.compile(r"[a-z0-9_.]{1,64}")
Thread = tuple[str, str, bool]  # channel, ts, whether the message shows a digest


def error_code(data: object) -> str | None:
    """Slack's ``error`` in an answer, if it looks like one (never echoed text)."""
    code = data.get("error") if isinstance(data, Mapping) else None
    return code if isinstance(code, str) and _CODE.fullmatch(code) else None


def classify(method: str, status: int, headers: Mapping[str, str], data: object) -> DeliveryError:
    """The error the retry loop acts on, for an answer that was not ``ok``."""
    code = error_code(data)
    detail = f"Slack {method}: {code or f'HTTP {status}'}"
    if status == 429 or code == "ratelimited":
        wait = parse_retry_after(headers.get("Retry-After"))
        return DeliveryError("http_429", detail, retryable=True, retry_after=wait)
    if status != 200 and (error := classify_http(status, headers.get("Retry-After"))):
        return DeliveryError(error.reason, detail, retryable=error.retryable,
                             retry_after=error.retry_after)  # fmt: skip
    if code is None:  # ok missing, or a body that is not Slack's (a proxy's page)
        return DeliveryError("other", detail + " (not a Slack answer)", retryable=True)
    if code in RETRYABLE_ERRORS:
        return DeliveryError("http_5xx", detail, retryable=True)
    hint = "check the bot token and its scopes" if code in AUTH_ERRORS else HINTS.get(code)
    return DeliveryError("http_4xx", f"{detail} ({hint})" if hint else detail, retryable=False)


class SlackApiSink:
    edits = True  # see Sink
    max_batch: int | None = slack_blocks.PER_MESSAGE

    def __init__(self, token: str, channel: str, *, api_url: str = "https://slack.com/api/",
                 zone: tzinfo = UTC, followups: bool = True, timeout: float = 60.0,
                 words: slack_blocks.Words | None = None) -> None:  # fmt: skip
        self._token, self.channel, self.api_url = token, channel, api_url
        self.zone, self.followups, self.timeout = zone, followups, timeout
        self.words = words or slack_blocks.Words()
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    def __repr__(self) -> str:
        return f"SlackApiSink(channel={self.channel!r}, token='***')"

    async def __aenter__(self) -> SlackApiSink:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._client = AsyncWebClient(token=self._token, base_url=self.api_url,
                                      session=self._session, retry_handlers=[])  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    def _open(self) -> AsyncWebClient:
        if self._client is None:
            raise DeliveryError("other", "sink not open", retryable=True)
        return self._client

    async def send(self, alerts: Sequence[Alert]) -> Sequence[Receipt | None] | None:
        """Posts first (a message per PER_MESSAGE of them), then each edit and
        follow-up in order; the receipts are the posts'."""
        receipts: list[Receipt | None] = [None] * len(alerts)
        new = [i for i, a in enumerate(alerts) if a.mode == "post"]
        first, group = part_of(alerts) if len(new) == len(alerts) else (0, len(new))
        for start in range(0, len(new), slack_blocks.PER_MESSAGE):
            chunk = new[start : start + slack_blocks.PER_MESSAGE]
            message = slack_blocks.post([alerts[i] for i in chunk], self.zone, first + start,
                                        max(group, first + len(new)), self.words)  # fmt: skip
            receipt = _receipt(await self._post(self.channel, message), len(chunk))
            for i in chunk:
                receipts[i] = receipt
        for alert in alerts:
            if alert.mode == "edit":
                await self._edit(alert)
            elif alert.mode == "followup":
                await self._followup(alert)
        return receipts

    async def _edit(self, alert: Alert) -> None:
        thread = _thread(alert)
        if thread is None or thread[2]:
            log.debug("slack_edit_skipped alert_id=%s digest=%s", alert.alert_id, bool(thread))
            return
        await self._update(thread, alert)

    async def _followup(self, alert: Alert) -> None:
        thread, parent = _thread(alert), None
        if thread is not None and not thread[2]:
            parent = thread if await self._update(thread, alert) else None
        elif thread is not None:
            parent = thread  # a digest: the reply goes to its thread, the digest stays
        if not self.followups:
            return
        message = slack_blocks.followup(alert, self.zone, self.words)
        if parent is None:
            await self._post(self.channel, message)  # no thread to reply in
        else:
            await self._post(parent[0], message, thread_ts=parent[1])

    async def _post(self, channel: str, message: Mapping[str, Any],
                    thread_ts: str | None = None) -> Mapping[str, Any] | None:  # fmt: skip
        call = self._open().chat_postMessage(
            channel=channel, text=message["text"], blocks=message["blocks"], thread_ts=thread_ts,
            unfurl_links=False, unfurl_media=False,
        )  # fmt: skip
        return await _answer("chat.postMessage", call)

    async def _update(self, thread: Thread, alert: Alert) -> bool:
        """Bring the story's message up to date; False if the message is gone."""
        message = slack_blocks.post([alert], self.zone, words=self.words)
        call = self._open().chat_update(channel=thread[0], ts=thread[1], text=message["text"],
                                        blocks=message["blocks"])  # fmt: skip
        answer = await _answer("chat.update", call, gone_ok=True)
        if answer is None:
            log.info("slack_message_gone alert_id=%s story_id=%s", alert.alert_id, alert.story_id)
        return answer is not None


async def _answer(method: str, call: Awaitable[AsyncSlackResponse],
                  gone_ok: bool = False) -> Mapping[str, Any] | None:  # fmt: skip
    """Slack's answer to ``call``; None if ``gone_ok`` and the message is gone;
    else the classified :class:`DeliveryError` (never carrying the token)."""
    try:
        response = await call
    except SlackApiError as exc:
        answer = exc.response
        if gone_ok and error_code(answer.data) in GONE_ERRORS:
            return None
        raise classify(method, answer.status_code, answer.headers, answer.data) from None
    except TimeoutError:
        raise DeliveryError("timeout", f"Slack {method}", retryable=True) from None
    except aiohttp.ClientSSLError as exc:
        raise DeliveryError("tls", type(exc).__name__, retryable=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError("connect", type(exc).__name__, retryable=True) from None
    except SlackClientError as exc:
        raise DeliveryError("other", f"Slack {method}: {type(exc).__name__}",
                            retryable=True) from None  # fmt: skip
    return response.data if isinstance(response.data, Mapping) else {}


def _receipt(answer: Mapping[str, Any] | None, shown: int) -> Receipt | None:
    channel, ts = (answer or {}).get("channel"), (answer or {}).get("ts")
    if not (isinstance(channel, str) and isinstance(ts, str)):
        return None
    return {"channel": channel, "ts": ts} | ({"digest": str(shown)} if shown > 1 else {})


def _thread(alert: Alert) -> Thread | None:
    """The story's message (from the receipt the loop kept), if there is one."""
    thread = dict(alert.thread)
    channel, ts = thread.get("channel"), thread.get("ts")
    if not (channel and ts):
        return None
    return channel, ts, "digest" in thread
