"""Worker processes die with `serkit predict`, whatever signal ends it (issue 18, item 2),
and an interrupted batch resumes to the same output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_tone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def fork_servers_of(pid: int) -> set[int]:
    """Fork servers started by ``pid``, wherever they are now (an orphan is adopted by
    another process): their environment records who started them."""
    marker = f"SERKIT_POOL_PARENT={pid}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in environ:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    for n in range(300):
        write_tone(folder / f"clip_{n:03d}.wav", seconds=0.5, freq=150 + n, seed=n)
    return folder


def start_predict(clips: Path, bundle: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "serkit.cli", "predict", str(clips), "--model", str(bundle),
         "--jobs", "2", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def wait_for_workers(process: subprocess.Popen, count: int, timeout_s: float = 60) -> set[int]:
    """The descendants once the pool is up (fork server + workers + resource tracker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = descendants(process.pid)
        if len(found) >= count:
            return found
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.1)
    raise AssertionError(f"the pool did not start within {timeout_s} s")


# count: the descendants to wait for; 2 kills while the fork server is still starting.
@pytest.mark.parametrize(("signum", "count"), [(signal.SIGTERM, 4), (signal.SIGKILL, 4), (signal.SIGKILL, 2)])
def test_no_process_outlives_a_killed_predict(signum, count, clips, tiny_bundle, tmp_path):
    process = start_predict(clips, tiny_bundle, tmp_path / "out.jsonl")
    try:
        pool = wait_for_workers(process, count=count)
        os.kill(process.pid, signum)
        code = process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(alive(p) for p in pool | descendants(process.pid)):
            time.sleep(0.1)
        pool |= fork_servers_of(process.pid)
        assert not [p for p in pool if alive(p)], "processes outlived serkit predict"
        if signum == signal.SIGTERM:
            assert code == 128 + signal.SIGTERM
            assert "terminated; finished work is kept" in process.stderr.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGKILL) if process.poll() is None else None


def test_a_killed_batch_resumes_to_the_same_output(clips, tiny_bundle, tmp_path):
    reference = tmp_path / "reference.jsonl"
    subprocess.run([sys.executable, "-m", "serkit.cli", "predict", str(clips), "--model", str(tiny_bundle),
                    "--jobs", "2", "--output", str(reference)], check=True, capture_output=True)
    out = tmp_path / "out.jsonl"
    process = start_predict(clips, tiny_bundle, out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 20):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    written = len(out.read_bytes().splitlines())
    assert 0 < written < 300, written  # killed in the middle
    subprocess.run([sys.executable, "-m", "serkit.cli", "predict", str(clips), "--model", str(tiny_bundle),
                    "--jobs", "2", "--output", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == reference.read_bytes()


def test_a_killed_training_resumes_to_the_same_predictions(tmp_path):
    import yaml

    from tests.conftest import write_fake_corpus

    data = write_fake_corpus(tmp_path / "data", per_emotion=12)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "experiment": "killed", "data": {"corpora": ["folder"]},
        "features": {"name": "fusion107", "params": {"pooling": "none"}},
        "model": {"name": "lstm", "params": {"input_kind": "frames"}},
        "protocol": {"split": "kfold", "params": {"n_folds": 2, "val_fraction": 0.2}},
        "training": {"epochs": 60, "batch_size": 8, "checkpoint_every": 1, "num_threads": 1},
    }))
    env = {**os.environ, "SERKIT_CACHE": str(tmp_path / "cache")}

    def run(out: Path, **kwargs):
        return subprocess.Popen([sys.executable, "-m", "serkit.cli", "run", str(config), "--data-root",
                                 str(data), "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, **kwargs)

    reference = tmp_path / "reference"
    assert run(reference).wait(timeout=300) == 0
    out = tmp_path / "run"
    process = run(out, start_new_session=True)
    state = out / "seed=0" / "fold=1" / "training_state.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not state.exists() and process.poll() is None:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert state.exists() and not (out / "seed=0" / "fold=1" / "predictions.csv").exists()
    assert run(out).wait(timeout=300) == 0
    for fold in (0, 1):
        name = Path("seed=0") / f"fold={fold}" / "predictions.csv"
        assert (out / name).read_bytes() == (reference / name).read_bytes()
