"""`serkit release`: choose a model by speaker- and corpus-independent UA, train it on
everything and write it as a bundle with its model card (serkit.training.release)."""

from __future__ import annotations

from serkit.commands import add_config_arguments, add_execution_arguments, run_with_execution


def add_parser(commands) -> None:
    """Register the command on the `serkit` sub-command parser."""
    release = commands.add_parser(
        "release",
        help="choose, train and bundle a model from a config with a release: section",
        description="Run every variant of CONFIG under each protocol of its release section, "
        "choose the variant with the best mean score (test folds only score, never choose "
        "checkpoints), train it on all the data and write the bundle and its model card. "
        "Every step resumes: finished folds are skipped.",
    )
    add_config_arguments(release, out_help="runs folder (default runs/<experiment>)")
    add_execution_arguments(release)
    release.set_defaults(handler=_release)


def _release(args) -> int:
    from serkit.training.config import load_config
    from serkit.training.release import run_release

    config = load_config(args.config, overrides=args.overrides)
    record = run_with_execution(
        args, config, lambda executor: run_release(config, out_dir=args.out, data_root=args.data_root,
                                                   executor=executor))
    if record == 0:  # an extra rank of --nproc / torchrun: rank 0 prints
        return 0
    print(f"released {record['name']!r} ({record['chosen_variant']}, chosen by {record['chosen_by']}) "
          f"to {config.release.bundle}")
    for split, metrics in record["metrics"]["protocols"].items():
        print(f"{split}: UA {100 * metrics['uar']:.2f}, accuracy {100 * metrics['accuracy']:.2f}")
    return 0
