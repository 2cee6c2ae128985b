"""Message templates: what a receiver's messages say, as Jinja2 templates.

A receiver may set ``title_template`` and ``body_template`` (each inline text, or
``@path`` to a file against the config's folder; inline text has its ``${VAR}``
expanded like any config value, so a literal ``${`` belongs in a file); without
them it uses the defaults beside this module (``*.j2``), which render what newsmon
always sent, so one path renders both. Each template belongs to a channel
(:mod:`~monitor.alerts.templates.markup`): ``slack`` (mrkdwn), ``html`` (mail) or
``text``, and every value it prints is escaped for that channel. What a template
sees: :mod:`~monitor.alerts.templates.context`.

Templates run in Jinja2's immutable sandbox (no attribute starting with ``_``, no
changing what it is given, ``range`` bounded), without the ``safe`` filter (no
value can be printed unescaped), with ``StrictUndefined`` (a misspelt
name is an error, not an empty string) and ``trim_blocks``/``lstrip_blocks`` (a
line holding only a ``{% tag %}`` leaves no line behind); ``{% include %}``
reaches the defaults by name and nothing else. A string or list may not be
multiplied past the output bound, nor a number raised to a power above 64, and the
output stops at its bound (:data:`TITLE_MAX`, :data:`BODY_MAX` characters, cut with
``… [truncated]``). A template file is at most :data:`FILE_MAX` bytes.

:func:`load` compiles a receiver's template and renders it once for each message
shape (:func:`~monitor.alerts.templates.context.samples`): a template that does not
compile or render is a :class:`~monitor.errors.ConfigError` naming ``file:line``
(``newsmon check`` reports it). At send time a template that fails raises
:class:`~monitor.errors.DeliveryError` (``other``, not retried: the alert is
dead-lettered, and ``newsmon alerts retry`` sends it once the template is fixed).
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from monitor.alerts import render
from monitor.alerts.templates import context
from monitor.alerts.templates.markup import CHANNELS, FINALIZE
from monitor.config import ReceiverConfig, reveal
from monitor.errors import ConfigError, DeliveryError, Problem
from monitor.model import Alert

__all__ = ["BODY_MAX", "CHANNELS", "FILE_MAX", "OPTIONS", "TITLE_MAX", "Template", "default",
           "load"]  # fmt: skip

OPTIONS = frozenset({"title_template", "body_template"})  # every receiver kind that shows text
TITLE_MAX = 2_000
BODY_MAX = 512 * 1024  # characters: a mail digest of a few hundred alerts
FILE_MAX = 256 * 1024  # bytes of a template file
_SOURCE = "<template>"  # the file name Jinja gives a template compiled from a string


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded (a template cannot build a
    gigabyte string or a number with a million digits before its output is cut)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, ctx: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:  # fmt: skip
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > BODY_MAX:
                    raise SecurityError("repetition too large")
        return super().call_binop(ctx, operator, left, right)


def _default_source(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    """A default template by its name (``text.body.j2``), for ``{% include %}``;
    nothing else of the package, nothing outside it."""
    path = Path(__file__).parent / name
    if not re.fullmatch(r"[a-z][a-z.]*\.j2", name) or not path.is_file():
        return None
    return path.read_text("utf-8"), str(path), lambda: True


@functools.cache
def environment(channel: str) -> jinja2.Environment:
    """The sandbox of ``channel``; the defaults can be included by name."""
    env = _Sandbox(
        loader=jinja2.FunctionLoader(_default_source),
        autoescape=channel != "text", finalize=FINALIZE[channel],
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        auto_reload=False,
    )  # fmt: skip
    env.globals.update(context.helpers(channel))
    del env.filters["safe"]  # no way to print a value unescaped: feed text stays inert
    return env


class Template:
    """A compiled template: ``render`` gives its text for some alerts, cut at ``limit``."""

    def __init__(self, compiled: jinja2.Template, limit: int, where: str) -> None:
        self.compiled, self.limit, self.where = compiled, limit, where

    def __repr__(self) -> str:
        return f"Template({self.where})"

    def text(self, alerts: Sequence[Alert], zone: tzinfo = UTC, **extra: Any) -> str:
        """The rendering; raises what the template raised."""
        out: list[str] = []
        size = 0
        for chunk in self.compiled.generate(context.variables(alerts, zone, **extra)):
            out.append(chunk)
            size += len(chunk)
            if size > self.limit:
                return render.clip("".join(out), self.limit)
        return "".join(out)

    def render(self, alerts: Sequence[Alert], zone: tzinfo = UTC, **extra: Any) -> str:
        """The rendering; a template that fails raises DeliveryError (not retried)."""
        try:
            return self.text(alerts, zone, **extra)
        except Exception as exc:  # a template's fault whatever it is: never a crash
            line = _line(exc, self.compiled.filename)
            at = f" line {line}" if line else ""
            raise DeliveryError("other", f"template {self.where}{at}: {_message(exc)}",
                                retryable=False) from None  # fmt: skip


def default(name: str, channel: str, limit: int = BODY_MAX) -> Template:
    """One of the default templates beside this module (``slack.body.j2``, ...)."""
    return Template(environment(channel).get_template(name), limit, name)


def load(receiver: ReceiverConfig, base_dir: Path, option: str, *, channel: str,
         fallback: str, limit: int = BODY_MAX) -> Template:  # fmt: skip
    """The receiver's template ``option`` (inline or ``@path``), else ``fallback``
    (a default's name); compiled and tried on every message shape, or a ConfigError."""
    value = receiver.options.get(option)
    if value is None:
        return default(fallback, channel, limit)
    source, path = _source(receiver, base_dir, option, reveal(value))
    where = f"{receiver.name}.{option}"
    try:
        template = Template(environment(channel).from_string(source), limit, where)
        for alerts in context.samples():
            template.text(alerts, UTC, receiver=receiver.name)
    except Exception as exc:
        raise _problem(receiver, option, path, _line(exc), _message(exc)) from None
    return template


def _source(receiver: ReceiverConfig, base_dir: Path, option: str,
            value: str) -> tuple[str, Path | None]:  # fmt: skip
    """The template's text, and the file it came from (None: inline)."""
    if not value.startswith("@"):
        return value, None
    path = Path(value[1:])
    path = path if path.is_absolute() else base_dir / path
    try:
        with path.open("rb") as f:
            data = f.read(FILE_MAX + 1)
    except OSError as exc:
        message = f"cannot read {path}: {exc.strerror or exc}"
        raise _problem(receiver, option, None, 0, message) from None
    if len(data) > FILE_MAX:
        message = f"{path} is larger than {FILE_MAX // 1024} KiB"
        raise _problem(receiver, option, None, 0, message)
    try:
        return data.decode("utf-8-sig"), path
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _problem(receiver, option, path, line, "not UTF-8 text") from None


def _problem(receiver: ReceiverConfig, option: str, path: Path | None, line: int,
             message: str) -> ConfigError:  # fmt: skip
    """``file:line`` of the template file, or the receiver's line for an inline one
    (with the line inside the template)."""
    head = f"receiver {receiver.name!r}: {option}"
    if path is not None:
        return ConfigError([Problem(str(path), line or 1, f"{head}: {message}")])
    inside = f" (line {line} of the template)" if line else ""
    return ConfigError([Problem(receiver.file, receiver.line, f"{head}{inside}: {message}")])


def _line(exc: BaseException, filename: str | None = _SOURCE) -> int:
    """The template line an error is at: a syntax error's, or the last template
    frame of a runtime error's traceback (Jinja maps those to template lines)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno
    names = {_SOURCE, filename}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in names]
    return (frames[-1].lineno or 0) if frames else 0


def _message(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"does not compile: {exc.message}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"does not render: {exc.message}"
    return f"does not render: {type(exc).__name__}: {exc}"
