"""The Ray executor on a local cluster started by the test: the same bytes as the local
executor, resumed and retried as locally, and one-line errors for bad requests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serkit.cli import main
from serkit.training.config import config_from_dict
from serkit.training.runner import run_experiment
from tests.conftest import write_fake_corpus

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'serkit[ray]'); "
                          "the Ray executor is not tested")

from serkit.training import executors  # noqa: E402  (after the skip: it is about Ray)


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> Path:
    return write_fake_corpus(tmp_path_factory.mktemp("data"), per_emotion=6)


@pytest.fixture(autouse=True, scope="module")
def _own_cache(private_cache):
    """Features of this module's fake corpus go to a cache of their own."""


@pytest.fixture(scope="module")
def cluster(_own_cache):
    """A 2-CPU local Ray cluster for the module (its workers inherit SERKIT_CACHE)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tiny_config(**training):
    return config_from_dict({
        "experiment": "ray",
        "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "mean"}},
        "model": {"name": "mlp", "params": {"hidden_units": [16], "dropout": 0.1}},
        "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.25}},
        "seeds": 2,
        "training": {"epochs": 1, "batch_size": 8, "num_threads": 1, **training},
    })


def predictions(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("predictions.csv"))}


def run_on_ray(out: Path, data_root: Path, config=None) -> dict:
    with executors.open_executor("ray") as executor:
        assert not executor.connected  # the test's cluster is used, not a new one
        return run_experiment(config or tiny_config(), out_dir=out, data_root=data_root,
                              progress=False, executor=executor)


def test_bad_executor_requests_are_one_line_errors(fake_root, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config().to_dict()))
    base = ["run", str(config), "--data-root", str(fake_root), "--out", str(tmp_path / "run")]

    # Nothing listens on port 1 of this machine.
    assert main([*base, "--executor", "ray", "--ray-address", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("serkit: error: no Ray cluster at '127.0.0.1:1'") and err.count("\n") == 1
    assert "ray start --head" in err
    assert not (tmp_path / "run").exists()  # refused before any work

    assert main([*base, "--ray-address", "127.0.0.1:1"]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main([*base, "--executor", "dask"])
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_without_ray_the_message_says_how_to_install_it(monkeypatch):
    from serkit.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'serkit\[ray\]'"):
        with executors.open_executor("ray"):
            pass


def test_cli_starts_a_local_cluster_and_stops_it(fake_root, tmp_path, capsys, one_torch_thread):
    config = tmp_path / "c.yaml"
    one_seed = config_from_dict({**tiny_config().to_dict(), "seeds": 1})
    config.write_text(yaml.safe_dump(one_seed.to_dict()))
    run_experiment(one_seed, out_dir=tmp_path / "local", data_root=fake_root, progress=False)
    code = main(["run", str(config), "--data-root", str(fake_root), "--out", str(tmp_path / "ray"),
                 "--executor", "ray"])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith("accuracy ")
    assert not ray.is_initialized()  # the cluster it started is stopped
    assert predictions(tmp_path / "ray") == predictions(tmp_path / "local")


def test_a_terminated_run_on_ray_ends_with_serkits_message(fake_root, tmp_path):
    # ray.init() installs a SIGTERM handler that exits at once (or aborts the process); the
    # executor must put serkit's back, which ends the run through close(). In a process of
    # its own, so that a regression fails this test instead of killing pytest.
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_config().to_dict()))
    driver = "\n".join([
        "import os, signal, sys, time",
        "from serkit.cli import main",
        "from serkit.training import executors",
        "def terminated_while_waiting(self, *args, **kwargs):",
        "    os.kill(os.getpid(), signal.SIGTERM)",
        "    time.sleep(5)",
        "executors.RayExecutor.run_fold_groups = terminated_while_waiting",
        "sys.exit(main(sys.argv[1:]))",
    ])
    done = subprocess.run([sys.executable, "-c", driver, "run", str(config), "--data-root", str(fake_root),
                           "--out", str(tmp_path / "ray"), "--executor", "ray"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 128 + signal.SIGTERM, done.stderr[-2000:]
    assert "serkit: terminated; finished work is kept and a rerun resumes" in done.stderr
    assert "SIGTERM received" not in done.stderr  # Ray's handler did not run


#: The environment of the processes of the existing-cluster test: no token authentication
#: (an in-process ray.init() leaves RAY_AUTH_MODE=token in os.environ, so both the head and
#: serkit's driver run as processes of their own with this set).
NO_AUTH = {"RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1"}


@pytest.fixture
def head_node(tmp_path):
    """A cluster started as an operator would (`ray start --head --block`); its address.
    Stopped by ending that process (never `ray stop`, which would stop every cluster of
    the machine)."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # A temp dir of its own (short: it holds unix sockets) for its sessions and logs.
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}", "--block"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "head.log", "w"), env={**os.environ, **NO_AUTH})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert head.poll() is None, (tmp_path / "head.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(1)
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()  # --block stops the cluster's processes when it ends
        head.wait(timeout=60)
        shutil.rmtree(temp_dir, ignore_errors=True)
        # ...but leaves its address in /tmp/ray/ray_current_cluster, where a later
        # ray.init() without an address would look for a cluster: remove it if it is ours.
        recorded = Path("/tmp/ray/ray_current_cluster")
        if recorded.exists() and recorded.read_text().strip().endswith(f":{port}"):
            recorded.unlink()


def test_cli_joins_an_existing_cluster(fake_root, tmp_path, head_node, one_torch_thread):
    import subprocess

    config = tmp_path / "c.yaml"
    one_seed = config_from_dict({**tiny_config().to_dict(), "seeds": 1})
    config.write_text(yaml.safe_dump(one_seed.to_dict()))
    run_experiment(one_seed, out_dir=tmp_path / "local", data_root=fake_root, progress=False)
    done = subprocess.run(
        [sys.executable, "-m", "serkit.cli", "run", str(config), "--data-root", str(fake_root),
         "--out", str(tmp_path / "ray"), "--executor", "ray", "--ray-address", head_node],
        capture_output=True, text=True, timeout=300, env={**os.environ, **NO_AUTH})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accuracy ")
    assert predictions(tmp_path / "ray") == predictions(tmp_path / "local")


# --- on a local cluster (started once for the tests below) ---------------------------------

def test_ray_gives_the_local_executors_bytes_and_resumes_like_it(fake_root, tmp_path, cluster, one_torch_thread):
    local = run_experiment(tiny_config(), out_dir=tmp_path / "local", data_root=fake_root, progress=False)
    remote = run_on_ray(tmp_path / "ray", fake_root)
    expected = predictions(tmp_path / "local")
    assert len(expected) == 4  # 2 seeds × 2 folds
    assert predictions(tmp_path / "ray") == expected
    assert remote["metrics"] == local["metrics"]

    # A finished fold is never redone; an unfinished one is run again, to the same bytes.
    redo = tmp_path / "ray" / "seed=1" / "fold=0" / "predictions.csv"
    redo.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("predictions.csv")}
    run_on_ray(tmp_path / "ray", fake_root)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert predictions(tmp_path / "ray") == expected


def _crash_once(config, dataset, fold, fold_dir, threads, progress):
    """Kill the worker process the first time a fold starts (as a lost node or an OOM kill
    would); the retry then runs the fold for real."""
    marker = fold_dir.path.parent / f"crashed-{fold_dir.fold}"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os._exit(1)
    return REAL_TASK(config, dataset, fold, fold_dir, threads, progress)


REAL_TASK = executors.run_fold_task


def test_a_crashed_task_is_retried_to_the_same_result(fake_root, tmp_path, cluster, one_torch_thread, monkeypatch):
    import cloudpickle

    config = tiny_config()
    one_seed = config_from_dict({**config.to_dict(), "seeds": 1})
    run_experiment(one_seed, out_dir=tmp_path / "local", data_root=fake_root, progress=False)
    # The workers cannot import this test module: send the crashing task by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(executors, "run_fold_task", _crash_once)
    try:
        run_on_ray(tmp_path / "ray", fake_root, one_seed)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert sorted(p.name for p in (tmp_path / "ray" / "seed=0").glob("crashed-*")) == ["crashed-0", "crashed-1"]
    assert predictions(tmp_path / "ray") == predictions(tmp_path / "local")


def test_search_trials_run_as_tasks_to_the_local_choice(fake_root, tmp_path, cluster, one_torch_thread):
    from serkit.training.search import run_search, with_grid

    config = with_grid(config_from_dict({**tiny_config().to_dict(), "seeds": 1}),
                       {"training.learning_rate": [0.01, 0.001]})
    local = run_search(config, out_dir=tmp_path / "local", data_root=fake_root, progress=False, echo=lambda _: None)
    with executors.open_executor("ray") as executor:
        remote = run_search(config, out_dir=tmp_path / "ray", data_root=fake_root, progress=False,
                            echo=lambda _: None, executor=executor)
    assert remote.best.trial.index == local.best.trial.index
    assert [r.val_loss for r in remote.results] == [r.val_loss for r in local.results]
    assert predictions(tmp_path / "ray") == predictions(tmp_path / "local")
    assert (tmp_path / "ray" / "trials.csv").exists() and (tmp_path / "ray" / "best.yaml").exists()


def test_a_task_reports_its_epochs_as_lines_naming_its_fold(fake_root, tmp_path, capsys, one_torch_thread):
    # A worker's stderr is no terminal: Ray forwards these lines to the driver's console.
    from serkit.training.search import make_trials, with_grid

    config = with_grid(config_from_dict({**tiny_config(epochs=2).to_dict(), "seeds": 1}),
                       {"training.learning_rate": [0.01, 0.001]})
    trials = make_trials(config)
    executors.run_trial_task(tmp_path, trials[0], fake_root, 1, True)
    lines = [line for line in capsys.readouterr().err.splitlines() if " epochs: " in line]
    assert [line.split(" epochs: ")[0] for line in lines] == ["trial=0/seed=0/fold=0", "trial=0/seed=0/fold=1"]
    assert all(line.split(" epochs: ")[1].startswith("2/2 (100%) in ") for line in lines)
    executors.run_trial_task(tmp_path, trials[1], fake_root, 1, False)
    assert capsys.readouterr().err == ""


def test_variants_run_side_by_side_to_the_local_bytes(fake_root, tmp_path, cluster, one_torch_thread, monkeypatch):
    from serkit.training.runner import run_variants

    config = config_from_dict({**tiny_config().to_dict(), "seeds": 1,
                               "variants": {"wide": {"model.params.hidden_units": [16]},
                                            "narrow": {"model.params.hidden_units": [4]}}})
    local = run_variants(config, out_dir=tmp_path / "local", data_root=fake_root, progress=False)
    sent = []
    real_wait = executors.RayExecutor._wait

    def counting_wait(self, refs, **kwargs):
        sent.append(sorted(refs.values()))
        return real_wait(self, refs, **kwargs)

    monkeypatch.setattr(executors.RayExecutor, "_wait", counting_wait)
    with executors.open_executor("ray") as executor:
        remote = run_variants(config, out_dir=tmp_path / "ray", data_root=fake_root, progress=False,
                              executor=executor)
    # Both variants' folds went to the cluster in one batch, not one variant after the other.
    assert sent == [["narrow/seed=0/fold=0", "narrow/seed=0/fold=1", "wide/seed=0/fold=0", "wide/seed=0/fold=1"]]
    assert predictions(tmp_path / "ray") == predictions(tmp_path / "local")
    assert len(predictions(tmp_path / "local")) == 4
    assert {name: r["metrics"] for name, r in remote.items()} == {name: r["metrics"] for name, r in local.items()}
    assert (tmp_path / "ray" / "summary.json").read_text() == (tmp_path / "local" / "summary.json").read_text()
