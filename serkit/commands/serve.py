"""`serkit serve`: (being written in this session)."""


def add_parser(commands) -> None:
    """Register the command on the `serkit` sub-command parser."""
