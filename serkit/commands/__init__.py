"""CLI command groups, one module per command (see serkit.cli.COMMAND_MODULES)."""
