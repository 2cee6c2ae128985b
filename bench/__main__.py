"""Run the benchmarks (every one, or those named: ``python -m bench rule_load poll``);
exit 1 if any misses its target. ``--long``: the polling benchmark's longer windows, and
the burst's worst case for dedup. Of several, each runs in a process of its own: what one
leaves in the heap (the burst's 37,000 stories) cost the next one's figures up to a tenth
(the decision at 20,000 stories: 306 µs after the burst, 273 and 284 µs alone)."""

from __future__ import annotations

import subprocess
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
    names = names or list(BENCHMARKS)
    if len(names) > 1:
        flags = ["--long"] if long else []
        codes = [subprocess.run([sys.executable, "-m", "bench", name, *flags]).returncode
                 for name in names]  # fmt: skip
        return 0 if all(code == 0 for code in codes) else 1
    name = names[0]
    ok = BENCHMARKS[name].run(long) if name in ("poll", "burst") else BENCHMARKS[name].run()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
