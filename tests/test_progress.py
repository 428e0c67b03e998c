"""serkit.progress: plain lines off a terminal (no \\r, no escape codes), a bar on one, and
an ETA that leaves out the start-up before the first completed item."""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

from serkit.batching import FeatureSet
from serkit.features import extract_corpus, make_features
from serkit.models import make_loss, make_model
from serkit.progress import LineProgress, progress_bar
from serkit.training.config import TrainingConfig
from serkit.training.fit import fit
from tests.conftest import write_tone


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines_of(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def line_progress(total, clock, stream, **kwargs) -> LineProgress:
    return LineProgress(total=total, desc="logmel features", unit="file", stream=stream,
                        clock=clock, **kwargs)


def one_file_a_second(bar, clock, files: int) -> None:
    for _ in range(files):
        clock.now += 1.0
        bar.update(1)


def test_a_line_per_tenth_once_the_interval_has_passed_and_a_last_line():
    clock, out = Clock(), io.StringIO()
    bar = line_progress(100, clock, out, step_interval_s=5, max_silence_s=1000)
    one_file_a_second(bar, clock, 100)
    bar.close()
    lines = lines_of(out)
    # Tenths are reached every 10 s, each more than 5 s after the last line: 9 lines, and
    # the 10th tenth is the end, written as the last line.
    assert [line.split(",")[0] for line in lines[:-1]] == [
        f"logmel features: {n}/100 files ({n}%)" for n in range(10, 100, 10)]
    assert lines[-1] == "logmel features: 100/100 files (100%) in 1m40s, 1.00 file/s"


def test_no_line_more_often_than_the_step_interval():
    clock, out = Clock(), io.StringIO()
    bar = line_progress(100, clock, out, step_interval_s=30, max_silence_s=1000)
    one_file_a_second(bar, clock, 100)
    bar.close()
    assert len(lines_of(out)) == 4  # at 30, 60 and 90 s, and the end


def test_a_slow_step_still_reports_after_the_longest_silence():
    clock, out = Clock(), io.StringIO()
    bar = line_progress(10_000, clock, out, step_interval_s=5, max_silence_s=30)
    for _ in range(10):
        clock.now += 20.0
        bar.update(1)  # 0.1 % every 20 s: no tenth is reached
    lines = lines_of(out)
    assert [line.split(",")[0] for line in lines] == [
        f"logmel features: {n}/10000 files (0%)" for n in (2, 4, 6, 8, 10)]
    assert lines[-1].endswith("ETA 55h30m, 20.0 s/file")


def test_eta_leaves_out_the_start_up_before_the_first_item():
    clock, out = Clock(), io.StringIO()
    bar = line_progress(1000, clock, out, step_interval_s=0, max_silence_s=0)
    clock.now = 3600.0  # an hour of worker start-up before anything completes
    bar.update(1)
    assert lines_of(out)[-1] == "logmel features: 1/1000 files (0%), 1h00m elapsed, ETA ?"
    clock.now += 2.0
    bar.update(4)  # 2 files a second since the first completed
    assert lines_of(out)[-1] == ("logmel features: 5/1000 files (0%), 1h00m elapsed, ETA 8m18s, "
                                 "2.00 file/s")


def test_cached_items_do_not_count_towards_the_rate():
    clock, out = Clock(), io.StringIO()
    bar = line_progress(100, clock, out, initial=90, step_interval_s=1000, max_silence_s=0)
    clock.now = 10.0
    bar.update(1)
    clock.now = 11.0
    bar.update(1)
    assert "ETA 8s, 1.00 file/s" in lines_of(out)[-1]


def test_nothing_to_do_writes_nothing():
    out = io.StringIO()
    bar = progress_bar(total=5, initial=5, desc="logmel features", unit="file", stream=out)
    bar.close()
    assert out.getvalue() == ""


def test_iteration_writes_its_last_line_with_the_postfix_also_after_break():
    out = io.StringIO()
    bar = progress_bar(range(10), desc="epochs", stream=out)
    for epoch in bar:
        bar.set_postfix(loss=f"{1 / (epoch + 1):.3f}")
        if epoch == 3:
            break
    (line,) = lines_of(out)
    assert line.startswith("epochs: 3/10 (30%) in 0s") and line.endswith("loss=0.250")


def test_disabled_shows_nothing_but_still_iterates():
    out = io.StringIO()
    bar = progress_bar(range(3), desc="epochs", enabled=False, stream=out)
    assert list(bar) == [0, 1, 2]
    bar.update(1)
    bar.close()
    assert out.getvalue() == ""


def test_a_terminal_gets_a_tqdm_bar_whose_eta_waits_for_a_second_item():
    out = Terminal()
    bar = progress_bar(total=10, desc="predict", unit="file", stream=out)
    bar.update(1)
    assert bar.format_dict["rate"] is None
    assert "1/10 [" in str(bar) and "<?, ?file/s]" in str(bar)
    bar.update(1)
    assert bar.format_dict["rate"] > 0
    with bar.external_write_mode(file=out):
        pass
    bar.close()
    assert "\r" in out.getvalue() and "2/10" in out.getvalue()


# --- the call sites -----------------------------------------------------------------------

def test_feature_extraction_reports_progress_off_a_terminal(tmp_path, capsys):
    tones = [write_tone(tmp_path / f"t{i}.wav", seconds=0.3) for i in range(3)]
    extract_corpus(tones, make_features("logmel", n_mels=16), cache=None, n_jobs=1)
    lines = lines_of(io.StringIO(capsys.readouterr().err))
    assert len(lines) == 1 and lines[0].startswith("logmel features: 3/3 files (100%) in ")


def test_fit_reports_its_epochs_off_a_terminal_in_lines(capsys, one_torch_thread):
    rng = np.random.default_rng(0)
    data = FeatureSet(rng.standard_normal((8, 4)).astype(np.float32),
                      (np.arange(8) % 2).astype(np.int64), "vector")
    torch.manual_seed(0)
    model: nn.Module = make_model("mlp", 4, 2, input_kind="vector", hidden_units=(4,))
    fit(model, data, data, loss_fn=make_loss("cross_entropy"),
        settings=TrainingConfig(epochs=3, batch_size=4), seed=0)
    lines = lines_of(io.StringIO(capsys.readouterr().err))
    assert len(lines) == 1
    assert lines[0].startswith("epochs: 3/3 (100%) in ") and "val_acc=" in lines[0]


def test_progress_false_is_silent_at_the_call_sites(tmp_path, capsys):
    tones = [write_tone(tmp_path / f"t{i}.wav", seconds=0.3) for i in range(2)]
    extract_corpus(tones, make_features("logmel", n_mels=16), cache=None, n_jobs=1, progress=False)
    assert capsys.readouterr().err == ""
