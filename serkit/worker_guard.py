"""Imported by the fork server of serkit's process pools: it dies with its parent.

Importing this module is its whole effect (multiprocessing's forkserver preload imports
modules by name; it cannot call a function), so nothing else should import it.
"""

from serkit.workers import die_with_parent

die_with_parent()
