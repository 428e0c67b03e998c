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
