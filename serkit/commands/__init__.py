"""CLI command groups, one module per command (see serkit.cli.COMMAND_MODULES)."""

from __future__ import annotations

from pathlib import Path


def add_config_arguments(parser, *, out_help: str, seeds_help: str | None = None) -> None:
    """The arguments every command that runs a config takes: CONFIG, --out, --set,
    --data-root, and --seeds where ``seeds_help`` is given."""
    parser.add_argument("config", metavar="CONFIG", type=Path)
    parser.add_argument("--out", type=Path, default=None, help=out_help)
    if seeds_help is not None:
        parser.add_argument("--seeds", type=int, default=None, help=seeds_help)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set training.epochs=20")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder holding the corpora (default: the config's, or $SERKIT_DATA)")


def add_execution_arguments(parser) -> None:
    """Where a command's trainings run: --executor, --ray-address and --nproc
    (serkit.training.executors, serkit.training.distributed)."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="run the folds (trials for search) here one after the other (local), or "
                        "side by side as tasks on a Ray cluster (ray; pip install 'serkit[ray]')")
    parser.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                        help="the Ray cluster to join (what `ray start --head` printed, or 'auto'); "
                        "without it --executor ray starts a local one")
    parser.add_argument("--nproc", type=_process_count, default=1, metavar="N",
                        help="train each fold on N processes with DistributedDataParallel (gloo on CPU, "
                        "nccl on GPUs); torchrun works too, without --nproc")


def _process_count(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes; give 1 or more")
    return value


def run_with_execution(args, config, body):
    """``body(executor)`` with the executor and process group that ``args`` ask for;
    returns its value (0 on the extra ranks of --nproc or torchrun, which only train)."""
    from serkit.errors import ConfigError
    from serkit.training.distributed import run_as_ranks
    from serkit.training.executors import open_executor

    if args.nproc > 1 and args.executor != "local":
        raise ConfigError("--nproc trains one fold on several local processes; it does not combine "
                          "with --executor ray (give each Ray task more threads with "
                          "training.num_threads instead)")
    with open_executor(args.executor, address=args.ray_address) as executor:
        result = run_as_ranks(lambda: body(executor), nproc=args.nproc, device=config.training.device)
    return 0 if result is None else result
