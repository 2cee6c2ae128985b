"""``newsmon run|check|test-rule|replay|alerts|silence|...``: the command line.

Builds the settings once from the config file and passes them down. Exit
codes: 0 success, 1 unusable config or rules (each problem printed as
``file:line: message``), 2 usage. One module per command: each adds its parser
and names its handler.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.cli import alerts, feeds, replay, run, silence, stories, testrule
from monitor.cli.logs import setup_logging

__all__ = ["main", "setup_logging"]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
        return code
    except BrokenPipeError:  # `newsmon alerts | head`: the reader left; stop quietly
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a Unix tool killed by it


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsmon", description="Self-hosted news-alert monitor")
    parser.add_argument("--version", action="version", version=f"newsmon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (run, testrule, replay, alerts, silence, stories, feeds):
        command.add(sub)
    return parser
