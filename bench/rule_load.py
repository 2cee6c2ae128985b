"""Rule loading: a generated 1 MiB and 10 MiB rule pack, beside PyYAML alone, same run.

A pack is entities (a two-word name with a number, a designator, a word and a
two-word alias; some with variants or a weak alias) and, for every third entity, a
rule joining three of them with AND, OR, NOT and a phrase, with labels. One rule
file is capped at 8 MiB (monitor.config.compose.MAX_FILE_BYTES), so the 10 MiB pack
is two files of 5 MiB, as a user would split it; a single 10 MiB file is refused
(timed too). Each load runs in a fresh interpreter, so its peak RSS is its own.

The baseline is PyYAML's own ``yaml.compose`` of the same files: with libyaml's
CSafeLoader (the parser alone, no checking) and, for 1 MiB, with its pure-Python
SafeLoader (what newsmon used before; it takes minutes at 10 MiB). Targets: loading
is linear (10 MiB takes at most 15x the time of 1 MiB) and 10 MiB loads in under
30 s; a 10 MiB file is refused in under 0.1 s.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

MiB = 1024 * 1024
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def pack(size: int, seed: int = 1, start: int = 0) -> str:
    """A rule pack of about ``size`` bytes; entity and rule numbers from ``start``."""
    rng = random.Random(seed)
    entities, rules, names = ["entities:"], ["rules:"], []
    total, n = 20, start
    while total < size:
        n += 1
        name = f"{_word(rng, 3).title()} {_word(rng, 2).title()} {n}"
        names.append(name)
        aliases = [f"{_word(rng, 1).upper()}-{rng.randint(10, 999)}", _word(rng, 4).title(),
                   f"{_word(rng, 3)} {_word(rng, 3)}"]  # fmt: skip
        entry = f'  - name: "{name}"\n    aliases: [{", ".join(repr(a) for a in aliases)}]\n'
        entry += "    variants: [A, B]\n" if n % 4 == 0 else ""
        entry += f'    weak: ["{_word(rng, 3)}"]\n' if n % 7 == 0 else ""
        entities.append(entry.rstrip("\n"))
        total += len(entry)
        if n % 3 == 0:
            a, b, c = rng.sample(names[-30:] if len(names) >= 30 else names * 3, 3)
            rule = (
                f"  - name: rule-{n}\n"
                f'    query: \'"{a}" AND ("{b}" OR "{c}") AND NOT "{_word(rng, 2)} x"\'\n'
                f"    severity: {rng.choice(['low', 'medium', 'high'])}\n"
                f"    labels: {{desk: d{n % 5}, topic: t{n % 11}}}\n"
            )
            rules.append(rule.rstrip("\n"))
            total += len(rule)
    return "\n".join(entities + rules) + "\n"


_MEASURE = """
import json, resource, sys, time
import yaml
from monitor.errors import ConfigError
from monitor.rules.load import load_rules
what, paths = sys.argv[1], sys.argv[2:]
start = time.perf_counter()  # imports done: the load (or the compose) alone is timed
if what == "newsmon":
    try:
        result = len(load_rules(paths))
    except ConfigError as exc:
        result = str(exc.problems[0])
else:
    loader = yaml.SafeLoader if what == "pyyaml" else yaml.CSafeLoader
    for path in paths:
        with open(path, encoding="utf-8") as f:
            yaml.compose(f, Loader=loader)
    result = None
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mib": rss, "result": result}))
"""


def measure(what: str, paths: list[Path]) -> dict[str, float | int | str | None]:
    """Load (``newsmon``) or compose (``pyyaml``, ``libyaml``) in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, what, *map(str, paths)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    result: dict[str, float | int | str | None] = json.loads(done.stdout)
    return result


def write_packs(folder: Path) -> dict[str, list[Path]]:
    files = {"1 MiB": [("one.yaml", pack(MiB))]}
    files["10 MiB"] = [("half-a.yaml", pack(5 * MiB)), ("half-b.yaml", pack(5 * MiB, 2, 10**6))]
    files["10 MiB, one file"] = [("whole.yaml", pack(10 * MiB))]
    out = {}
    for label, entries in files.items():
        out[label] = []
        for name, text in entries:
            (path := folder / name).write_text(text, encoding="utf-8")
            out[label].append(path)
    return out


def run() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        packs = write_packs(Path(tmp))
        seconds = {}
        for label in ("1 MiB", "10 MiB"):
            paths = packs[label]
            mine, fast = measure("newsmon", paths), measure("libyaml", paths)
            seconds[label] = float(mine["seconds"] or 0)
            pure = ""
            if label == "1 MiB":  # minutes at 10 MiB
                pure = f", {measure('pyyaml', paths)['seconds']:.2f} s (pure Python)"
            print(
                f"rule load: {label:>6} in {len(paths)} file(s), {mine['result']:,} rules: "
                f"newsmon {mine['seconds']:6.2f} s, peak {mine['rss_mib']:4.0f} MiB; "
                f"PyYAML compose alone {fast['seconds']:5.2f} s (libyaml){pure}"
            )
        refused = measure("newsmon", packs["10 MiB, one file"])
        print(f"rule load: one 10 MiB file refused in {refused['seconds']:.4f} s: "
              f"{refused['result']}")  # fmt: skip
    ratio = seconds["10 MiB"] / max(seconds["1 MiB"], 1e-9)
    checks = [
        (f"10 MiB <= 15x the 1 MiB time (linear): {ratio:.1f}x", ratio <= 15),
        ("10 MiB loads in < 30 s", seconds["10 MiB"] < 30),
        ("a 10 MiB file is refused in < 0.1 s", float(refused["seconds"] or 0) < 0.1),
    ]
    for what, met in checks:
        print(f"rule load: target {what}: {'met' if met else 'MISSED'}")
    return all(met for _, met in checks)


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
