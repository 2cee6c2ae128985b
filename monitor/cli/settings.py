"""What every command that reads a config shares: load it, say what is wrong."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.config import Settings, load_config
from monitor.errors import ConfigError

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]


def load(path: Path) -> Settings:
    from monitor.alerts.sinks import schemas

    return load_config(path, receivers=schemas())


def print_problems(exc: ConfigError) -> None:
    for problem in exc.problems:
        print(problem, file=sys.stderr)


def count(things: Sequence[object], what: str) -> str:
    return f"{len(things)} {what}{'' if len(things) == 1 else 's'}"


def config_option(required: bool = True) -> argparse.ArgumentParser:
    """A parent parser with ``-c/--config`` (so it may stand before or after an action)."""
    parent = argparse.ArgumentParser(add_help=False)
    if required:
        parent.add_argument("-c", "--config", required=True, type=Path, help="config YAML file")
    else:
        parent.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS,
                            help="config YAML file")  # fmt: skip
    return parent


def needs_config(args: argparse.Namespace, command: str) -> bool:
    """False (and says so) when an optional-place ``-c`` was not given."""
    if getattr(args, "config", None) is None:
        print(f"newsmon {command}: -c/--config is required", file=sys.stderr)
        return False
    return True
