"""Worker processes for parallel work (feature extraction, batch prediction).

Both pools are made by :func:`process_pool`; each worker's initializer calls
:func:`one_thread_per_worker` first.

Workers die with their parent whatever ends it: Ctrl-C and SIGTERM stop the pool through
the CLI's handler, and on Linux the fork server and every worker also ask the kernel to
kill them when their parent process dies (:func:`die_with_parent`), so even ``kill -9`` of
``serkit predict`` leaves no process behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: Environment variables that set the thread count of OpenMP, BLAS and numba.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def process_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose workers start with ``preload`` modules imported.

    fork is unsafe once the parent runs threads (torch, tqdm's monitor); forkserver forks
    workers from a clean server that imported the heavy modules once. Spawn where there is
    no forkserver (macOS without it, Windows).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # The fork server starts later, from this process: it checks it still has it.
        os.environ[POOL_PARENT_VAR] = str(os.getpid())
        context.set_forkserver_preload(["serkit.worker_guard", *preload])
        return context
    return multiprocessing.get_context("spawn")


def process_pool(workers: int, preload: Sequence[str], initializer: Callable[..., Any],
                 initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes from :func:`process_context`, each started by
    ``initializer(*initargs)`` (a module-level function, which should call
    :func:`one_thread_per_worker`)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=process_context(preload),
                               initializer=initializer, initargs=initargs)


def one_thread_per_worker() -> None:
    """Limit this worker process to one OpenMP/BLAS/numba thread.

    The pool already keeps every core busy; threads competing for the same cores only slow
    each other down. Call it before importing torch, so that OpenMP reads the setting.
    """
    die_with_parent(expected_parent())
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(1)


def usable_cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


#: The pid a pool process's parent should have: the starter's pid for the fork server,
#: the fork server's own pid for the workers it forks.
POOL_PARENT_VAR = "SERKIT_POOL_PARENT"
#: prctl option: the signal this process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None = None) -> None:
    """Have the kernel kill this process when its parent dies (Linux; elsewhere nothing).

    A pool's worker blocks on its job pipe, and holds both ends of it, so it would never
    notice a parent killed by SIGKILL; the fork server likewise. Called in each of them.

    Args:
        expected_parent: the pid the parent should have. A process whose parent died
            before this call has already been adopted by another, which the request would
            then watch instead; it exits at once.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid() if expected_parent is None else expected_parent
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def expected_parent() -> int | None:
    """The pid this pool process's parent should have, as its starter recorded it."""
    value = os.environ.get(POOL_PARENT_VAR, "")
    return int(value) if value.isdigit() else None
