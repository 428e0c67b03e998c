"""`serkit bundle`: turn one finished fold of an experiment run into a model bundle."""

from __future__ import annotations

from pathlib import Path


def add_parser(commands) -> None:
    """Register the command on the `serkit` sub-command parser."""
    bundle = commands.add_parser(
        "bundle",
        help="make a model bundle (for predict/serve/export) from a finished run",
        description="Bundle the model of one fold of RUN_DIR (a folder `serkit run` wrote; for a "
        "run of variants, one variant's folder) with its features, standardizer and labels. "
        "Default: the run's first seed, fold 0. scikit-learn models cannot be bundled.",
    )
    bundle.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    bundle.add_argument("--seed", type=int, default=None, help="which seed (default: the run's first)")
    bundle.add_argument("--fold", type=int, default=None, help="which fold (default: 0)")
    bundle.add_argument("--out", type=Path, default=None, help="bundle folder (default: bundles/NAME)")
    bundle.add_argument("--name", default=None, help="the bundle's name (default: the experiment's)")
    bundle.set_defaults(handler=_bundle)


def _bundle(args) -> int:
    from serkit.inference.bundle import bundle_from_run, read_bundle

    out = bundle_from_run(args.run_dir, seed=args.seed, fold=args.fold, out=args.out, name=args.name)
    info = read_bundle(out)
    training = info["training"]
    chosen = [f"seed {training['seed']}" + (" (the first)" if args.seed is None else ""),
              f"fold {training['fold']}" + (" (the default)" if args.fold is None else "")]
    print(f"bundled {', '.join(chosen)} of {args.run_dir} as {info['name']!r}: {out}")
    test = info["metrics"].get("test") or {}
    if test:
        print(f"test side of that fold: accuracy {100 * test['accuracy']:.2f} %, "
              f"uar {100 * test['uar']:.2f} % ({test['n']} utterances)")
    return 0
