"""Where an experiment's folds run: in this process (``local``) or as Ray tasks (``ray``).

:func:`serkit.training.runner.run_experiment` hands the folds it has not finished to an
executor, then runs whatever is still unfinished in its own loop; with the ``local``
executor (``None``) that loop is the whole story. The Ray executor sends every unfinished
(seed, fold) of the experiment (of every variant, for a run of variants) to the cluster at
once, one task each with the CPUs (``training.num_threads``, else 1) and GPU
(``training.device: cuda``) the fold needs, and :func:`serkit.training.search.run_search`
sends every unfinished trial as one task.

Every task writes into the same run folder as a local run would (the workers must see the
driver's filesystem: one machine, or a shared one across nodes). Resuming is the local
path's: a fold whose predictions.csv exists is never sent, and a task that starts on a
fold finished meanwhile does nothing. A task whose worker dies is retried by Ray
(``max_retries``) and resumes from the fold's last training_state.pt; an exception raised
by the fold itself (bad input) is not retried.

Each fold seeds itself (``run_fold``) and runs on the same number of torch threads as a
local run with ``training.num_threads``, so a fold gives the same bytes on either executor.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from serkit.errors import ConfigError, MissingDependencyError, SerkitError, first_line

#: The values of ``--executor``.
EXECUTORS = ("local", "ray")
#: How often Ray reruns a task whose worker process or node died.
MAX_RETRIES = 3
#: Seconds to wait for a TCP connection to ``--ray-address`` before calling it unreachable.
CONNECT_TIMEOUT_S = 10


class ExecutorError(SerkitError):
    """A cluster that cannot be used, or a task that failed on it."""


@contextlib.contextmanager
def open_executor(name: str = "local", *, address: str | None = None) -> Iterator[RayExecutor | None]:
    """The executor called ``name``: ``None`` for local (runner's own loop), a connected
    :class:`RayExecutor` for ``ray``; a cluster it started is stopped on leaving."""
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
    if name == "local":
        if address is not None:
            raise ConfigError("--ray-address needs --executor ray")
        yield None
        return
    executor = RayExecutor(address)
    try:
        yield executor
    finally:
        executor.close()


def resources(config) -> dict[str, float]:
    """The Ray resource request of one fold of ``config``."""
    settings = config.training
    return {"num_cpus": max(1, int(settings.num_threads or 1)),
            "num_gpus": 1 if str(settings.device).startswith("cuda") else 0}


@contextlib.contextmanager
def _sigterm_handler_kept() -> Iterator[None]:
    """Restore the SIGTERM handler the block found (only the main thread can set one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if handler is not None:  # None: set outside Python, nothing to restore with
            signal.signal(signal.SIGTERM, handler)


class RayExecutor:
    """Runs folds and trials as Ray tasks on the cluster at ``address`` (a local one when
    ``None``), waiting for them with one progress bar across tasks."""

    def __init__(self, address: str | None = None):
        self.ray = _import_ray()
        # Whether this executor connected (and so disconnects at the end: a local cluster
        # it started stops then, a cluster it joined goes on). An API caller's own
        # ray.init() is used as it is.
        self.connected = False
        if not self.ray.is_initialized():
            self._connect(address)

    def _connect(self, address: str | None) -> None:
        # ray.init() replaces the driver's SIGTERM handler with one that exits at once; keep
        # ours (serkit.cli's), so that a terminated run says its finished work is kept and
        # leaves through close(), which stops the cluster it started.
        with _sigterm_handler_kept():
            self._init(address)
        self.connected = True

    def _init(self, address: str | None) -> None:
        if address is None:
            # A one-machine cluster over this machine's cores, started (and stopped) by us:
            # "local" rather than None, which would join whatever cluster `ray start` last
            # recorded on this machine (and wait for it if it is gone).
            self.ray.init(address="local", include_dashboard=False, log_to_driver=True)
        else:
            _check_reachable(address)
            try:
                self.ray.init(address=address)
            except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
                raise ExecutorError(
                    f"cannot join the Ray cluster at {address!r} ({first_line(exc)}); check the address "
                    "`ray start --head` printed, and if the cluster uses token authentication, export "
                    "RAY_AUTH_MODE=token with its token in RAY_AUTH_TOKEN or ~/.ray/auth_token") from None

    def close(self) -> None:
        if self.connected:
            self.ray.shutdown()
            self.connected = False

    # --- what the runner and the search call ---------------------------------------------

    def run_folds(self, config, dataset, jobs, *, progress: bool = True) -> None:
        """Run the unfinished ``(fold_dir, fold)`` jobs of one experiment; return when all are done."""
        self.run_fold_groups([(config, dataset, jobs)], progress=progress, desc=config.experiment)

    def run_fold_groups(self, groups, *, progress: bool = True, desc: str = "variants") -> None:
        """Run the unfinished jobs of several experiments (``(config, dataset, jobs)`` each: the
        variants of a run) side by side; return when all are done."""
        refs = {}
        for config, dataset, jobs in groups:
            pending = [(fold_dir, fold) for fold_dir, fold in jobs if not fold_dir.finished]
            if not pending:
                continue
            request = resources(config)
            task = self.ray.remote(run_fold_task).options(max_retries=MAX_RETRIES, **request)
            dataset_ref = self.ray.put(dataset)  # sent to the object store once, not once per fold
            refs.update({task.remote(config, dataset_ref, fold, fold_dir, request["num_cpus"], progress): fold_dir.name
                         for fold_dir, fold in pending})
        if refs:
            self._wait(refs, desc=f"{desc}: {len(refs)} folds", progress=progress)

    def run_trials(self, out: Path, trials: list, *, data_root, echo: Callable[[str], None],
                   on_result: Callable[[list], None], progress: bool = True) -> list:
        """Run the unfinished search trials as one task each; ``on_result`` gets the results
        so far, in trial order, after each trial finishes. Returns them all."""
        from serkit.training.search import _is_finished, _run_trial, describe

        results, refs = [], {}
        for trial in trials:
            finished = _is_finished(out / f"trial={trial.index}", trial)
            state = "finished, skipped" if finished else "sent to Ray"
            echo(f"[{trial.index + 1}/{len(trials)}] trial={trial.index}: {describe(trial.values)} ({state})")
            if finished:
                results.append(_run_trial(out, trial, data_root=data_root, progress=False, finished=True))
                continue
            request = resources(trial.config)
            task = self.ray.remote(run_trial_task).options(max_retries=MAX_RETRIES, **request)
            refs[task.remote(out, trial, data_root, request["num_cpus"], progress)] = f"trial={trial.index}"

        def collect(result) -> None:
            results.append(result)
            results.sort(key=lambda r: r.trial.index)
            on_result(list(results))

        if results:
            on_result(sorted(results, key=lambda r: r.trial.index))
        self._wait(refs, desc="trials", progress=progress, on_done=collect)
        return sorted(results, key=lambda r: r.trial.index)

    # --- waiting -------------------------------------------------------------------------

    def _wait(self, refs: dict, *, desc: str, progress: bool, on_done: Callable[[Any], None] | None = None) -> None:
        """Wait for every task, one bar across them; on the first failure or Ctrl-C, cancel
        the rest (what they saved is kept, so a rerun resumes) and raise."""
        from serkit.progress import progress_bar

        left = list(refs)
        bar = progress_bar(total=len(left), desc=f"{desc} on Ray", unit="task", enabled=progress)
        try:
            while left:
                done, left = self.ray.wait(left, num_returns=1)
                value = self._result(done[0], refs[done[0]])
                if on_done is not None:
                    on_done(value)
                bar.update(1)
        except BaseException:
            for ref in left:
                self.ray.cancel(ref)
            raise
        finally:
            bar.close()

    def _result(self, ref, name: str):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, SerkitError):
                raise exc.cause from None  # bad input: the same one-line message as locally
            raise ExecutorError(f"{name} failed on the Ray cluster: {first_line(exc.cause or exc)}; "
                                "finished folds are kept, rerun to resume") from None
        except self.ray.exceptions.RayError as exc:  # a worker or node lost more than max_retries times
            raise ExecutorError(f"{name} was lost on the Ray cluster after {MAX_RETRIES} retries "
                                f"({first_line(exc)}); finished folds are kept, rerun to resume") from None


# --- the tasks (module-level functions, so Ray workers import them by name) ---------------

# A worker's stderr is not a terminal, so its progress comes as log lines naming the fold
# (Ray forwards them to the driver's console and keeps them in its worker logs): an hour-long
# trial is not silent.

def run_fold_task(config, dataset, fold, fold_dir, threads: int, progress: bool = True) -> None:
    """One fold on a Ray worker, exactly as the local loop runs it."""
    import torch

    from serkit.training.runner import run_fold

    if fold_dir.finished:  # a retry of a task whose fold another attempt finished
        return
    torch.set_num_threads(threads)
    run_fold(config, dataset, fold, fold_dir, progress=progress)


def run_trial_task(out: Path, trial, data_root, threads: int, progress: bool = True):
    """One search trial on a Ray worker: its folds in turn, as a local search runs them."""
    import torch

    from serkit.training.search import _run_trial

    torch.set_num_threads(threads)
    return _run_trial(out, trial, data_root=data_root, progress=progress, finished=False)


# --- helpers ------------------------------------------------------------------------------

def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--executor ray needs Ray, which is not installed: "
                                     "pip install 'serkit[ray]' (or use --executor local)") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast on a ``host:port`` nobody listens on (ray.init would wait a minute)."""
    if address == "auto" or address.startswith(("ray://", "local")):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r}: expected HOST:PORT (the address "
                          "`ray start --head` prints, e.g. 10.0.0.1:6379), 'auto' or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ExecutorError(f"no Ray cluster at {address!r} ({exc.strerror or exc}); start one with "
                            "`ray start --head` on the head node, or leave out --ray-address to start "
                            "a local one") from None

