#!/usr/bin/env bash
# Mutation testing of the modules that decide serkit's numbers (mutmut 3, config in
# pyproject.toml [tool.mutmut]); prints the kill rate of each module and its survivors.
#
#   scripts/mutation.sh                 every module below (about an hour on 2 busy cores)
#   scripts/mutation.sh metrics splits  some of them
#   scripts/mutation.sh --report        the table again, from the last run's mutants/
#
# Modules: metrics splits labels reproducibility selection standardizer fusion logmel
# ("selection" is the checkpoint choice and early stop, fit.py's _Selection; "standardizer"
# is features/extract.py's Standardizer). Survivors that cannot change behaviour are listed
# with their reason in docs/testing.md. Not part of CI: CI runs the tests it produced.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A GLOBS=(
    [metrics]="serkit.evaluation.metrics.*"
    [reproducibility]="serkit.evaluation.reproducibility.*"
    [splits]="serkit.splits.*"
    [labels]="serkit.labels.*"
    [selection]="serkit.training.fit.xǁ_Selectionǁ*"
    [standardizer]="serkit.features.extract.xǁStandardizerǁ*"
    [fusion]="serkit.features.fusion.*"
    [logmel]="serkit.features.logmel.*"
)
ORDER=(metrics reproducibility splits labels selection standardizer fusion logmel)

report_only=0
modules=()
for arg in "$@"; do
    if [[ $arg == --report ]]; then report_only=1
    elif [[ -n ${GLOBS[$arg]+x} ]]; then modules+=("$arg")
    else echo "unknown module '$arg'; one of: ${ORDER[*]}" >&2; exit 2
    fi
done
(( ${#modules[@]} )) || modules=("${ORDER[@]}")

if (( ! report_only )); then
    # One torch/BLAS thread and a private feature cache: no oversubscribed cores (false
    # timeouts), nothing written to the user's cache.
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    export SERKIT_CACHE="${TMPDIR:-/tmp}/serkit-mutation-cache"
    rm -rf mutants
    names=()
    for m in "${modules[@]}"; do names+=("${GLOBS[$m]}"); done
    python -m mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "${names[@]}" | tail -n 5
fi

python - "${modules[@]}" <<'EOF'
import fnmatch, json, sys
from collections import Counter
from pathlib import Path

GLOBS = {
    "metrics": ("serkit/evaluation/metrics.py", "serkit.evaluation.metrics.*"),
    "reproducibility": ("serkit/evaluation/reproducibility.py", "serkit.evaluation.reproducibility.*"),
    "splits": ("serkit/splits.py", "serkit.splits.*"),
    "labels": ("serkit/labels.py", "serkit.labels.*"),
    "selection": ("serkit/training/fit.py", "serkit.training.fit.xǁ_Selectionǁ*"),
    "standardizer": ("serkit/features/extract.py", "serkit.features.extract.xǁStandardizerǁ*"),
    "fusion": ("serkit/features/fusion.py", "serkit.features.fusion.*"),
    "logmel": ("serkit/features/logmel.py", "serkit.features.logmel.*"),
}
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}   # killed, timeout, type check (mutmut's score)
print(f"\n{'module':16} {'mutants':>7} {'killed':>7} {'rate':>7}")
survivors = []
for module in sys.argv[1:]:
    path, glob = GLOBS[module]
    meta = Path("mutants") / (path + ".meta")
    if not meta.is_file():
        print(f"{module:16} {'not run':>7}")
        continue
    codes = {k: v for k, v in json.loads(meta.read_text())["exit_code_by_key"].items()
             if fnmatch.fnmatch(k, glob) and v is not None}
    killed = sum(v in KILLED for v in codes.values())
    print(f"{module:16} {len(codes):7d} {killed:7d} {100 * killed / max(len(codes), 1):6.1f}%")
    survivors += [(k, v) for k, v in codes.items() if v not in KILLED]
if survivors:
    print("\nsurvivors (python -m mutmut show <name> for the diff):")
    for name, code in sorted(survivors):
        print(f"  {name}  ({ {0: 'survived', 33: 'no tests', 5: 'no tests'}.get(code, code) })")
EOF
