#!/usr/bin/env bash
# Mutation testing of the modules that decide serkit's numbers (mutmut 3, config in
# pyproject.toml [tool.mutmut]); prints the kill rate of each module and what survived.
#
#   scripts/mutation.sh                       every module (an hour or more on 2 busy cores)
#   scripts/mutation.sh metrics splits        some of them
#   scripts/mutation.sh --rerun-survivors [modules]
#                                             after adding tests: rerun only what the last run
#                                             did not kill (a killed mutant stays killed when
#                                             tests are only added); run it twice after a
#                                             source change (changed functions come back
#                                             unchecked)
#   scripts/mutation.sh --report [modules]    the table again, from mutants/
#
# Modules: metrics reproducibility splits labels selection standardizer fusion logmel scalogram
# waveform
# ("selection" is the checkpoint choice and early stop, fit.py's _Selection; "standardizer"
# is features/extract.py's Standardizer). docs/testing.md lists every survivor with the
# reason it cannot change behaviour. Not part of CI: CI runs the tests it produced.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(metrics reproducibility splits labels selection standardizer fusion logmel scalogram waveform)
mode=full
modules=()
for arg in "$@"; do
    case $arg in
        --report) mode=report ;;
        --rerun-survivors) mode=rerun ;;
        metrics|reproducibility|splits|labels|selection|standardizer|fusion|logmel|scalogram|waveform) modules+=("$arg") ;;
        *) echo "unknown argument '$arg'; modules: ${ALL[*]}" >&2; exit 2 ;;
    esac
done
(( ${#modules[@]} )) || modules=("${ALL[@]}")

# One torch/BLAS thread and a private feature cache: no oversubscribed cores (false
# timeouts), nothing written to the user's cache.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export SERKIT_CACHE="${TMPDIR:-/tmp}/serkit-mutation-cache"
# mutmut runs the tests from mutants/, where ../shared/data is not beside the checkout.
if [[ -z ${SERKIT_DATA:-} && -d ../shared/data ]]; then
    SERKIT_DATA="$(cd ../shared/data && pwd)"
    export SERKIT_DATA
fi
run() { python -m mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "$@" | tail -n 3; }

case $mode in
    full)
        rm -rf mutants
        globs=()
        for m in "${modules[@]}"; do
            globs+=("$(python -c 'import sys; sys.path.insert(0, "scripts"); import mutation_report as r; print(r.MODULES[sys.argv[1]][1])' "$m")")
        done
        run "${globs[@]}"
        ;;
    rerun)
        [[ -d mutants ]] || { echo "no mutants/ to rerun: run scripts/mutation.sh first" >&2; exit 2; }
        python scripts/mutation_report.py snapshot "${modules[@]}"
        mapfile -t names < <(python scripts/mutation_report.py survivors "${modules[@]}" | sed '/^$/d')
        if (( ${#names[@]} )); then run "${names[@]}"; else echo "nothing left to rerun"; fi
        ;;
esac
python scripts/mutation_report.py report "${modules[@]}"
