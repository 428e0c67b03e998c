"""`serkit search`: grid search over any config key, chosen on validation data only."""

from __future__ import annotations

from serkit.commands import add_config_arguments, add_execution_arguments, run_with_execution


def add_parser(commands) -> None:
    """Register the command on the `serkit` sub-command parser."""
    search = commands.add_parser(
        "search",
        help="grid search over config keys, choosing on validation data only",
        description="Run one experiment per point of the grid (the config's search.grid and any "
        "--grid options) into OUT/trial=<i>/, score each by its mean validation loss or accuracy "
        "at the selected checkpoints, and write trials.csv, trials.md and best.yaml. Test "
        "metrics are shown but never used for the choice. An interrupted search resumes.",
    )
    add_config_arguments(search, out_help="search folder (default runs/<experiment>-search)",
                         seeds_help="repeated runs per trial (overrides the config)")
    search.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="values to try for a config key, e.g. --grid training.learning_rate=0.01,0.001 "
                        "(repeatable; replaces that key's values in the config's search.grid)")
    search.add_argument("--select", choices=("val_loss", "val_accuracy"), default=None,
                        help="validation score that chooses the trial (default: the config's search.select, "
                        "else val_loss)")
    add_execution_arguments(search)
    search.set_defaults(handler=_search)


def _search(args) -> int:
    from serkit.training.config import load_config
    from serkit.training.search import (
        parse_grid_option,
        run_search,
        trials_markdown,
        with_grid,
    )

    config = load_config(args.config, overrides=args.overrides, seeds=args.seeds)
    grid = dict(parse_grid_option(item) for item in args.grid)
    config = with_grid(config, grid, select=args.select, source=f"{args.config} with --grid")
    result = run_with_execution(
        args, config, lambda executor: run_search(config, out_dir=args.out, data_root=args.data_root,
                                                  executor=executor))
    if result == 0:  # an extra rank of --nproc / torchrun: rank 0 prints
        return 0
    print()
    print(trials_markdown(config.experiment, result.keys, result.results, result.select), end="")
    print(f"wrote {result.out_dir / 'trials.md'}, {result.out_dir / 'trials.csv'}; "
          f"the chosen config: serkit run {result.out_dir / 'best.yaml'}")
    return 0
