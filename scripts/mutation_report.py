"""Kill rate per module from mutmut's mutants/ folder (scripts/mutation.sh calls this).

    python scripts/mutation_report.py report [module ...]      the table and the survivors
    python scripts/mutation_report.py survivors [module ...]   names not killed (to rerun)
    python scripts/mutation_report.py snapshot [module ...]    remember what is killed now

mutmut forgets every verdict when the test selection in pyproject.toml changes, so before a
rerun of the survivors the killed mutants are remembered in mutants/killed.json; a killed
mutant stays killed when tests are only added (after a change to a module's code, run that
module in full instead).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

#: module → (source file, mutant-name glob). "selection" is the checkpoint choice and the
#: early stop (fit.py's _Selection), "standardizer" features/extract.py's Standardizer.
MODULES = {
    "metrics": ("serkit/evaluation/metrics.py", "serkit.evaluation.metrics.*"),
    "reproducibility": ("serkit/evaluation/reproducibility.py", "serkit.evaluation.reproducibility.*"),
    "splits": ("serkit/splits.py", "serkit.splits.*"),
    "labels": ("serkit/labels.py", "serkit.labels.*"),
    "selection": ("serkit/training/fit.py", "serkit.training.fit.xǁ_Selectionǁ*"),
    "standardizer": ("serkit/features/extract.py", "serkit.features.extract.xǁStandardizerǁ*"),
    "fusion": ("serkit/features/fusion.py", "serkit.features.fusion.*"),
    "logmel": ("serkit/features/logmel.py", "serkit.features.logmel.*"),
    "scalogram": ("serkit/features/scalogram.py", "serkit.features.scalogram.*"),
    "waveform": ("serkit/features/waveform.py", "serkit.features.waveform.*"),
}
#: mutmut's exit codes that count as killed in its own score: killed, timeout, type check.
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked"}
SNAPSHOT = Path("mutants") / "killed.json"


def remembered() -> set[str]:
    return set(json.loads(SNAPSHOT.read_text(encoding="utf-8"))) if SNAPSHOT.is_file() else set()


def results(module: str) -> dict[str, int | None]:
    path, glob = MODULES[module]
    meta = Path("mutants") / (path + ".meta")
    if not meta.is_file():
        return {}
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    killed_before = remembered()
    return {name: 1 if name in killed_before else code
            for name, code in codes.items() if fnmatch.fnmatch(name, glob)}


def main(argv: list[str]) -> int:
    command, modules = argv[0], argv[1:] or list(MODULES)
    if command == "snapshot":
        killed = remembered() | {n for m in modules for n, c in results(m).items() if c in KILLED}
        SNAPSHOT.write_text(json.dumps(sorted(killed), indent=0), encoding="utf-8")
        return 0
    if command == "survivors":
        for module in modules:
            print("\n".join(n for n, c in sorted(results(module).items()) if c not in KILLED))
        return 0
    print(f"\n{'module':16} {'mutants':>7} {'killed':>7} {'rate':>7} {'unchecked':>9}")
    left = []
    for module in modules:
        codes = results(module)
        decided = {n: c for n, c in codes.items() if c is not None}
        if not decided:
            print(f"{module:16} {'not run':>7}")
            continue
        killed = sum(c in KILLED for c in decided.values())
        print(f"{module:16} {len(decided):7d} {killed:7d} {100 * killed / len(decided):6.1f}% "
              f"{len(codes) - len(decided):9d}")
        left += [(n, c) for n, c in decided.items() if c not in KILLED]
    if left:
        print("\nnot killed (python -m mutmut show <name> for the diff):")
        for name, code in sorted(left):
            print(f"  {name}  ({STATUS.get(code, code)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["report"]))
