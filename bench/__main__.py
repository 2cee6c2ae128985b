"""Run every benchmark; exit 1 if any misses its target."""

from __future__ import annotations

import sys

from bench import ingest, kafka, rules, stories


def main() -> int:
    results = [ingest.run(), rules.run(), stories.run(), kafka.run()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
