"""Run the benchmarks (every one, or those named: ``python -m bench rule_load``);
exit 1 if any misses its target."""

from __future__ import annotations

import sys

from bench import ingest, kafka, rule_load, rules, stories

BENCHMARKS = {"ingest": ingest, "rules": rules, "rule_load": rule_load, "stories": stories,
              "kafka": kafka}  # fmt: skip


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    results = [BENCHMARKS[name].run() for name in names or BENCHMARKS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
