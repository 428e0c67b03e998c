"""Imported by the fork server of serkit's process pools: it dies with its parent.

Importing this module is its whole effect (multiprocessing's forkserver preload imports
modules by name; it cannot call a function), so nothing else should import it.
"""

import os

from serkit.workers import POOL_PARENT_VAR, die_with_parent, expected_parent

# If the process that started the fork server was killed while it started, only the
# recorded pid tells; the workers forked from here then check for this process.
die_with_parent(expected_parent())
os.environ[POOL_PARENT_VAR] = str(os.getpid())
