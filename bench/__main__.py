"""Run the benchmarks (every one, or those named: ``python -m bench rule_load poll``);
exit 1 if any misses its target. ``--long``: the polling benchmark's longer windows, and
the burst's worst case for dedup."""

from __future__ import annotations

import sys

from bench import burst, cluster_share, ingest, kafka, poll, rule_load, rules, stories

BENCHMARKS = {"ingest": ingest, "rules": rules, "rule_load": rule_load, "stories": stories,
              "kafka": kafka, "cluster_share": cluster_share, "poll": poll,
              "burst": burst}  # fmt: skip


def main(args: list[str]) -> int:
    long = "--long" in args
    names = [a for a in args if not a.startswith("--")]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    results = [BENCHMARKS[name].run(long) if name in ("poll", "burst") else BENCHMARKS[name].run()
               for name in names or BENCHMARKS]  # fmt: skip
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
