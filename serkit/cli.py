"""The ``serkit`` command line.

Bad input never shows a traceback: a :class:`SerkitError` is printed as one line on stderr
and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from importlib import import_module
from pathlib import Path

from serkit.errors import SerkitError

log = logging.getLogger("serkit")

#: Commands that live in serkit/commands/, one module each with ``add_parser(commands)``.
#: Each imports its heavy dependencies (torch, FastAPI, Streamlit) only when it runs.
COMMAND_MODULES = tuple(f"serkit.commands.{name}" for name in
                        ("release", "search", "bundle", "predict", "embed", "fewshot", "export", "serve",
                         "demo"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    # Signal handlers can only be set from the main thread (a caller may run us elsewhere).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main else None
    try:
        return args.handler(args) or 0
    except SerkitError as exc:
        print(f"serkit: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("serkit: terminated; finished work is kept and a rerun resumes", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("serkit: interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, systemd, docker stop), handled like Ctrl-C: pools are stopped and
    what was written is kept."""


def _terminated(signum, frame):
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serkit", description="Speech emotion recognition toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=f"serkit {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_corpora(commands)
    _add_report(commands)
    _add_run(commands)
    for module in COMMAND_MODULES:
        import_module(module).add_parser(commands)
    return parser


def _version() -> str:
    from serkit import __version__

    return __version__


# --- serkit corpora -------------------------------------------------------------------

def _add_corpora(commands) -> None:
    corpora = commands.add_parser("corpora", help="list the supported corpora, or check one")
    corpora.set_defaults(handler=_list_corpora)
    sub = corpora.add_subparsers(title="corpora commands", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="load a corpus and compare it with its published counts",
        description="NAME is a corpus (see `serkit corpora`), `folder` for a folder-per-label "
        "tree, `csv` with ROOT a manifest, or `all` with ROOT a folder holding one "
        "sub-folder per corpus (emodb/, ravdess/, ...).",
    )
    check.add_argument("name", metavar="NAME")
    check.add_argument("root", metavar="ROOT", type=Path)
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(handler=_check_corpus)


def _list_corpora(args) -> int:
    from serkit.corpora import CORPORA

    width = max(len(info.name) for info in CORPORA)
    for info in CORPORA:
        print(f"{info.name:<{width}}  {info.language:<6}  {info.description}")
    return 0


def _check_corpus(args) -> int:
    from serkit.corpora import check_corpus, format_check, load_corpus

    if args.name == "all":
        roots = _corpus_folders(args.root)
    else:
        roots = {args.name: args.root}
    summaries = {name: check_corpus(load_corpus(name, root)) for name, root in roots.items()}
    if args.json:
        payload = summaries if args.name == "all" else summaries[args.name]
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    else:
        print("\n\n".join(format_check(s) for s in summaries.values()))
    return 0


def _corpus_folders(root: Path) -> dict[str, Path]:
    """The sub-folders of ``root`` named after a supported corpus."""
    from serkit.corpora import CORPORA

    if not root.is_dir():
        raise SerkitError(f"{str(root)!r} is not a folder; pass the folder that holds emodb/, ravdess/, ...")
    names = {info.name for info in CORPORA} - {"folder", "csv"}
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and p.name in names}
    if not found:
        raise SerkitError(
            f"no corpus folders in {str(root)!r}; expected sub-folders named after corpora: "
            f"{', '.join(sorted(names))}"
        )
    return found


# --- serkit report --------------------------------------------------------------------

def _add_report(commands) -> None:
    report = commands.add_parser("report", help="score a run folder's predictions.csv files")
    report.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    report.add_argument("--out", type=Path, default=None, help="where to write (default RUN_DIR)")
    report.set_defaults(handler=_report)


def _report(args) -> int:
    from serkit.evaluation import build_report

    # A run of several variants holds one run folder per variant: report each on its own
    # rather than pooling different models' predictions as if they were seeds.
    variants = _variant_dirs(args.run_dir)
    targets = {d.name: (d, (args.out / d.name) if args.out else None) for d in variants} or {
        None: (args.run_dir, args.out)}
    for name, (run_dir, out) in targets.items():
        report = build_report(run_dir, out_dir=out)
        out = out or run_dir
        _print_scores(report, name)
        print(f"wrote {out / 'report.md'}, {out / 'report.json'} and figures/")
    return 0


def _variant_dirs(run_dir: Path) -> list[Path]:
    from serkit.rundir import RunDir

    return [variant.path for variant in RunDir(run_dir).variants()]


def _print_scores(report: dict, name: str | None) -> None:
    """The headline metrics on stdout, then each of the report's warnings on stderr: a
    warning in report.md alone is easy to miss after a long run."""
    print(f"{name}: {_metrics_line(report)}" if name else _metrics_line(report))
    for warning in report.get("warnings", []):
        print(f"warning: {f'{name}: ' if name else ''}{warning}", file=sys.stderr)


def _metrics_line(report: dict) -> str:
    from serkit.evaluation.report import mean_std_text

    parts = []
    for name in ("accuracy", "uar", "macro_f1"):
        m = report.get("metrics", {}).get(name)
        if m is not None:
            parts.append(f"{name} {mean_std_text(m)}")
    return ", ".join(parts)


# --- serkit run -----------------------------------------------------------------------

def _add_run(commands) -> None:
    from serkit.commands import add_config_arguments, add_execution_arguments

    run = commands.add_parser("run", help="run an experiment (and its variants) from a YAML config")
    add_config_arguments(run, out_help="runs folder (default runs/<experiment>)",
                         seeds_help="number of repeated runs (overrides the config)")
    run.add_argument("--variant", dest="variants", action="append", default=None, metavar="NAME",
                     help="run only this variant of the config (repeatable; default all); the others "
                     "keep what earlier runs into the same --out finished")
    add_execution_arguments(run)
    run.set_defaults(handler=_run)


def _run(args) -> int:
    from serkit.commands import run_with_execution
    from serkit.training.config import load_config

    config = load_config(args.config, overrides=args.overrides, seeds=args.seeds)
    if config.release is not None:
        raise SerkitError(f"{args.config} is a release config (it has a release: section); run it "
                          f"with `serkit release {args.config}`")
    return run_with_execution(args, config, lambda executor: _run_variants(args, config, executor))


def _run_variants(args, config, executor) -> int:
    from serkit.training.runner import run_variants

    reports = run_variants(config, out_dir=args.out, data_root=args.data_root, executor=executor,
                           only=args.variants)
    for name, report in reports.items():
        _print_scores(report, name if config.variants else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
