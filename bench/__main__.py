"""Run every benchmark; exit 1 if any misses its target."""

from __future__ import annotations

import sys

from bench import burst, ingest, kafka, poll, rules, stories


def main() -> int:
    long = "--long" in sys.argv  # the polling benchmark's longer windows
    results = [ingest.run(), rules.run(), stories.run(), kafka.run(), poll.run(long), burst.run()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
