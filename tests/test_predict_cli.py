"""`serkit predict`: formats, bad files, resume, timelines, worker processes, errors."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serkit.cli import main
from serkit.inference import batch, load_model
from serkit.inference.batch import find_audio_files
from tests.conftest import TINY_LABELS, write_tone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def clips(tmp_path) -> Path:
    """A folder of four short tones (one flac in a sub-folder) and a file that is not audio."""
    folder = tmp_path / "clips"
    for i, freq in enumerate((180.0, 240.0, 330.0)):
        write_tone(folder / f"tone{i}.wav", seconds=0.6 + 0.2 * i, freq=freq, seed=i)
    write_tone(folder / "sub" / "tone3.flac", seconds=0.8, freq=440.0, seed=3)
    (folder / "notes.txt").write_text("not audio, and not picked up from a folder")
    return folder


def predict(*args, capsys) -> tuple[int, str, str]:
    """Run `serkit predict`; in-process (--jobs 1) unless the test asks for workers."""
    args = [*map(str, args), "--no-progress"]
    code = main(["predict", *args, *([] if "--jobs" in args else ["--jobs", "1"])])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# --- discovery ------------------------------------------------------------------------------

def test_find_audio_files_is_recursive_sorted_and_deduplicated(clips):
    (clips / ".hidden").mkdir()
    write_tone(clips / ".hidden" / "skip.wav")
    write_tone(clips / "._resource_fork.wav")
    files = find_audio_files([clips, clips / "tone1.wav", clips / "sub"])
    assert [f.relative_to(clips).as_posix() for f in files] == [
        "sub/tone3.flac", "tone0.wav", "tone1.wav", "tone2.wav"]


def test_a_file_named_explicitly_is_taken_whatever_its_extension(clips):
    assert find_audio_files([clips / "notes.txt"]) == [clips / "notes.txt"]


# --- formats ----------------------------------------------------------------------------------

def test_jsonl_gives_the_recognizer_probabilities(clips, tiny_bundle, capsys):
    code, out, _ = predict(clips, "--model", tiny_bundle, "--format", "jsonl",
                           capsys=capsys)
    assert code == 0
    records = jsonl(out)
    assert [Path(r["path"]).name for r in records] == ["tone3.flac", "tone0.wav", "tone1.wav", "tone2.wav"]
    recognizer = load_model(tiny_bundle)
    for record in records:
        expected = recognizer.predict(record["path"])
        assert list(record["probabilities"]) == TINY_LABELS
        assert record["label"] == expected.label
        assert record["probabilities"] == pytest.approx(expected.probabilities, abs=1e-9)
        assert sum(record["probabilities"].values()) == pytest.approx(1.0)


def test_csv_has_one_column_per_class(clips, tiny_bundle, capsys):
    code, out, _ = predict(clips, "--model", tiny_bundle, "--format", "csv", capsys=capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "label", "error", *TINY_LABELS]
    assert len(rows) == 4
    for row in rows:
        probabilities = {c: float(row[c]) for c in TINY_LABELS}
        assert row["error"] == "" and row["label"] == max(probabilities, key=probabilities.get)
        assert sum(probabilities.values()) == pytest.approx(1.0)


def test_table_is_aligned_with_a_row_per_file(clips, tiny_bundle, capsys):
    code, out, _ = predict(clips, "--model", tiny_bundle, capsys=capsys)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["path", "label", "p", *TINY_LABELS]
    assert len(rows) == 4
    label_column = header.index("label")
    for row in rows:
        cells = row[label_column:].split()
        assert cells[0] in TINY_LABELS
        probabilities = [float(c) for c in cells[2:]]
        assert float(cells[1]) == max(probabilities)
        assert sum(probabilities) == pytest.approx(1.0, abs=0.01)  # rounded to 3 decimals


def test_the_format_follows_the_output_suffix(clips, tiny_bundle, tmp_path, capsys):
    out = tmp_path / "results.csv"
    code, _, err = predict(clips, "--model", tiny_bundle, "--output", out, capsys=capsys)
    assert code == 0 and "4 files: 4 predicted" in err
    assert out.read_text().splitlines()[0] == "path,label,error," + ",".join(TINY_LABELS)


# --- bad files --------------------------------------------------------------------------------

def test_each_bad_file_gets_its_own_error_line_and_exit_1(clips, tiny_bundle, capsys):
    (clips / "empty.wav").write_bytes(b"")
    (clips / "corrupt.wav").write_bytes((clips / "tone0.wav").read_bytes()[:30])
    (clips / "text.wav").write_text("this is a text file with a .wav name\n" * 20)
    sf.write(clips / "silent.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    code, out, err = predict(clips, clips / "notes.txt", "--model", tiny_bundle, "--format", "jsonl",
                             capsys=capsys)
    assert code == 1
    by_name = {Path(r["path"]).name: r for r in jsonl(out)}
    assert len(by_name) == 9
    errors = {name: r["error"] for name, r in by_name.items() if "error" in r}
    assert set(errors) == {"empty.wav", "corrupt.wav", "text.wav", "silent.wav", "notes.txt"}
    assert "empty" in errors["empty.wav"] and "silent" in errors["silent.wav"]
    assert "not audio or corrupt" in errors["text.wav"]
    assert all("\n" not in e and "Traceback" not in e for e in errors.values())
    for name in ("tone0.wav", "tone1.wav", "tone2.wav", "tone3.flac"):
        assert list(by_name[name]["probabilities"]) == TINY_LABELS
    assert "5 failed" in err


def test_bad_files_in_table_and_csv(clips, tiny_bundle, capsys):
    (clips / "empty.wav").write_bytes(b"")
    code, out, _ = predict(clips, "--model", tiny_bundle, capsys=capsys)
    assert code == 1
    [row] = [line for line in out.splitlines() if "empty.wav" in line]
    assert "ERROR" in row and "empty" in row
    code, out, _ = predict(clips, "--model", tiny_bundle, "--format", "csv", capsys=capsys)
    rows = {Path(r["path"]).name: r for r in csv.DictReader(io.StringIO(out))}
    assert code == 1 and rows["empty.wav"]["error"] and rows["empty.wav"]["anger"] == ""


# --- resume -----------------------------------------------------------------------------------

@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The files predicted from now on (in-process runs)."""
    seen: list[str] = []
    original = batch.predict_chunk

    def spy(recognizer, items, **kwargs):
        seen.extend(Path(path).name for path, _ in items)
        return original(recognizer, items, **kwargs)

    monkeypatch.setattr(batch, "predict_chunk", spy)
    return seen


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_skips_done_files_and_redoes_a_torn_line(clips, tiny_bundle, tmp_path, capsys,
                                                        counted, fmt):
    fresh, resumed = tmp_path / f"fresh.{fmt}", tmp_path / f"resumed.{fmt}"
    assert predict(clips, "--model", tiny_bundle, "--output", fresh, "--jobs", "1", capsys=capsys)[0] == 0
    # An interrupted run: two complete lines (with the csv header) and half of the third.
    lines = fresh.read_bytes().splitlines(keepends=True)
    complete = 3 if fmt == "csv" else 2
    resumed.write_bytes(b"".join(lines[:complete]) + lines[complete][:25])
    counted.clear()
    code, _, err = predict(clips, "--model", tiny_bundle, "--output", resumed,
                           capsys=capsys)
    assert code == 0
    assert counted == ["tone1.wav", "tone2.wav"]  # tone3.flac and tone0.wav were done
    assert resumed.read_bytes() == fresh.read_bytes()
    assert "2 predicted, 2 already in" in err
    counted.clear()
    assert predict(clips, "--model", tiny_bundle, "--output", resumed, capsys=capsys)[0] == 0
    assert counted == [] and resumed.read_bytes() == fresh.read_bytes()


def test_resume_keeps_earlier_failures_in_the_exit_status(clips, tiny_bundle, tmp_path, capsys, counted):
    (clips / "empty.wav").write_bytes(b"")
    out = tmp_path / "out.jsonl"
    assert predict(clips, "--model", tiny_bundle, "--output", out, capsys=capsys)[0] == 1
    counted.clear()
    assert predict(clips, "--model", tiny_bundle, "--output", out, capsys=capsys)[0] == 1
    assert counted == []


def test_an_output_that_is_not_results_is_refused(clips, tiny_bundle, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    out.write_text("my precious notes\nsecond line\n")
    code, _, err = predict(clips, "--model", tiny_bundle, "--output", out, capsys=capsys)
    assert code == 2 and err.startswith("serkit: error:") and str(out) in err
    assert out.read_text() == "my precious notes\nsecond line\n"


# --- timeline ---------------------------------------------------------------------------------

def test_timeline_windows_and_segments(tmp_path, tiny_bundle, capsys):
    clip = write_tone(tmp_path / "long.wav", seconds=2.5, freq=300.0)
    code, out, _ = predict(clip, "--model", tiny_bundle, "--format", "jsonl", "--timeline",
                           "--window", "1.0", "--hop", "0.5", capsys=capsys)
    assert code == 0
    [record] = jsonl(out)
    timeline = record["timeline"]
    assert timeline["duration_s"] == pytest.approx(2.5)
    starts = [w["start_s"] for w in timeline["windows"]]
    assert starts == pytest.approx([0.0, 0.5, 1.0, 1.5])
    for window in timeline["windows"]:
        assert list(window["probabilities"]) == TINY_LABELS
        assert sum(window["probabilities"].values()) == pytest.approx(1.0)
    segments = timeline["segments"]
    assert segments[0]["start_s"] == 0.0 and segments[-1]["end_s"] == pytest.approx(2.5)
    assert all(a["end_s"] == b["start_s"] for a, b in itertools.pairwise(segments))
    assert list(record["probabilities"]) == TINY_LABELS  # the whole clip too


def test_timeline_table_prints_the_segments(tmp_path, tiny_bundle, capsys):
    clip = write_tone(tmp_path / "long.wav", seconds=2.5, freq=300.0)
    code, out, _ = predict(clip, "--model", tiny_bundle, "--timeline", "--window", "1.0",
                           capsys=capsys)
    *segment_lines, summary = [line.split() for line in out.splitlines()[2:]]
    assert code == 0 and segment_lines
    assert segment_lines[0][0] == "0.00" and segment_lines[-1][2] == "2.50"
    assert all(line[4] in TINY_LABELS for line in segment_lines)
    # The summary line: speech time, then each label's share of it (a tone: all speech).
    assert summary[:5] == ["speech", "2.5", "s", "of", "2.5"] and summary[6] in TINY_LABELS


@pytest.mark.parametrize("options, message", [
    (["--window", "0"], "window_s must be"),
    (["--hop", "5"], "hop_s must be"),
    (["--min-segment", "-1"], "min_segment_s must be a number of seconds of at least 0"),
    (["--smooth-windows", "4"], "smooth_windows must be an odd whole number"),
    (["--plot", "out.jpg"], "--plot out.jpg: name a .png"),
    (["--plot", "no/such/folder/out.png"], "does not exist"),
])
def test_bad_timeline_options_are_one_line_errors(clips, tiny_bundle, capsys, options, message):
    code, out, err = predict(clips, "--model", tiny_bundle, "--timeline", *options, capsys=capsys)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("options, message", [
    (["--smoothing", "hmm"], ("argument --smoothing: invalid choice: 'hmm' (choose from 'median', "
                              "'mean', 'viterbi', 'none')")),
    (["--vad", "neural"], "argument --vad: invalid choice: 'neural' (choose from 'energy', 'none')"),
])
def test_unknown_timeline_choices_are_usage_errors(clips, capsys, options, message):
    with pytest.raises(SystemExit) as exit_:
        predict(clips, "--timeline", *options, capsys=capsys)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.strip().splitlines()[-1] == f"serkit predict: error: {message}"


def test_the_cli_choices_are_the_library_ones():
    from serkit.commands import predict as command
    from serkit.inference.speech_activity import VAD_METHODS
    from serkit.inference.timeline import SMOOTHING_METHODS

    assert command.SMOOTHING_METHODS == SMOOTHING_METHODS and command.VAD_METHODS == VAD_METHODS


def blocks_and_silence(path: Path) -> Path:
    """Two tones with a 2 s silence between them: 6.5 s, 2 s of it without speech."""
    t = np.arange(2 * 16_000) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    sf.write(path, np.concatenate([tone, np.zeros(32_000, np.float32), tone, tone[:8_000]]), 16_000)
    return path


def test_timeline_csv_has_a_row_per_segment(tmp_path, clips, tiny_bundle, capsys):
    clip = blocks_and_silence(tmp_path / "call.wav")
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    code, out, err = predict(clip, junk, "--model", tiny_bundle, "--timeline", "--format", "csv",
                             "--window", "1.0", "--hop", "0.5", "--min-segment", "1.0", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1 and err.strip().endswith("2 files: 1 predicted, 1 failed")
    assert list(rows[0]) == ["path", "start_s", "end_s", "label", "confidence", "error"]
    *segments, failed = rows
    assert failed["path"] == str(junk) and "not audio" in failed["error"] and not failed["label"]
    assert {r["path"] for r in segments} == {str(clip)}
    assert segments[0]["start_s"] == "0.000" and segments[-1]["end_s"] == "6.500"
    assert all(a["end_s"] == b["start_s"] for a, b in itertools.pairwise(segments))
    assert [(r["start_s"], r["end_s"]) for r in segments if r["label"] == "non-speech"] == [("2.000", "4.000")]
    assert all(float(r["end_s"]) - float(r["start_s"]) >= 1.0 for r in segments if r["label"] != "non-speech")
    # jsonl of the same file: the same segments, and the summary over the 4.5 s of speech.
    code, out, _ = predict(clip, "--model", tiny_bundle, "--timeline", "--format", "jsonl",
                           "--window", "1.0", "--hop", "0.5", "--min-segment", "1.0", capsys=capsys)
    [record] = jsonl(out)
    assert [(f"{s['start_s']:.3f}", s["label"]) for s in record["timeline"]["segments"]] == \
        [(r["start_s"], r["label"]) for r in segments]
    summary = record["timeline"]["summary"]
    assert summary["speech_s"] == pytest.approx(4.5) and summary["non_speech_s"] == pytest.approx(2.0)
    assert list(summary["shares"]) == TINY_LABELS and sum(summary["shares"].values()) == pytest.approx(1.0)


def test_timeline_csv_does_not_append_to_earlier_results(tmp_path, clips, tiny_bundle, capsys):
    out = tmp_path / "segments.csv"
    out.write_text("path,start_s\nx,0\n")
    code, _, err = predict(clips / "tone0.wav", "--model", tiny_bundle, "--timeline", "--output", out,
                           capsys=capsys)
    assert code == 2 and "cannot resume; pass a new --output" in err
    assert out.read_text() == "path,start_s\nx,0\n"


def test_plot_draws_one_png_per_file(tmp_path, clips, tiny_bundle, capsys):
    clip = blocks_and_silence(tmp_path / "call.wav")
    code, _, _ = predict(clip, "--model", tiny_bundle, "--plot", tmp_path / "one.png", "--window", "1.0",
                         capsys=capsys)
    assert code == 0 and (tmp_path / "one.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, _ = predict(clip, clips / "tone0.wav", "--model", tiny_bundle, "--plot", tmp_path / "p.png",
                         "--window", "0.5", "--hop", "0.5", "--format", "jsonl", capsys=capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("p-*.png")) == ["p-call.png", "p-tone0.png"]


def test_counts_are_honest_without_an_output_file(tmp_path, clips, tiny_bundle, capsys):
    """issue 19: `serkit predict junk.wav sad.flac` printed "2 predicted, 1 failed"."""
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    code, out, err = predict(junk, clips / "tone0.wav", "--model", tiny_bundle, capsys=capsys)
    assert code == 1 and err.strip().splitlines()[-1] == "serkit predict: 2 files: 1 predicted, 1 failed"
    assert sorted(line.split()[1] in TINY_LABELS for line in out.splitlines()[1:]) == [False, True]


# --- worker processes ---------------------------------------------------------------------------

def test_two_jobs_give_the_same_results_as_one(clips, tiny_bundle, tmp_path, capsys, monkeypatch):
    pools = []
    original = batch._pool_records
    monkeypatch.setattr(batch, "_pool_records", lambda *a: pools.append(a[2]) or original(*a))
    (clips / "empty.wav").write_bytes(b"")
    write_tone(clips / "tone4.wav", seconds=1.2, freq=520.0, seed=4)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert predict(clips, "--model", tiny_bundle, "--output", one, "--jobs", "1", capsys=capsys)[0] == 1
    assert predict(clips, "--model", tiny_bundle, "--output", two, "--jobs", "2", capsys=capsys)[0] == 1
    assert pools == [2]  # the second run used two worker processes
    first, second = jsonl(one.read_text()), jsonl(two.read_text())
    assert [r["path"] for r in first] == [r["path"] for r in second]  # input order
    for a, b in zip(first, second):
        assert a.get("error") == b.get("error") and a.get("label") == b.get("label")
        if "probabilities" in a:
            assert b["probabilities"] == pytest.approx(a["probabilities"], abs=1e-6)


# --- usage errors -------------------------------------------------------------------------------

def test_a_missing_path_is_an_error_line_and_the_batch_goes_on(clips, tiny_bundle, tmp_path, capsys):
    missing, gone = tmp_path / "missing.wav", tmp_path / "nowhere"
    code, out, err = predict(clips / "tone0.wav", missing, gone, "--model", tiny_bundle,
                             "--format", "jsonl", capsys=capsys)
    assert code == 1
    by_name = {Path(r["path"]).name: r for r in jsonl(out)}
    assert set(by_name) == {"tone0.wav", "missing.wav", "nowhere"}
    assert list(by_name["tone0.wav"]["probabilities"]) == TINY_LABELS
    assert by_name["missing.wav"]["error"] == by_name["nowhere"]["error"] == "file not found; check the path"
    assert err.strip() == "serkit predict: 3 files: 1 predicted, 2 failed"  # counts add up
    # Only missing paths: each still gets its line, and the status says some failed.
    code, out, _ = predict(missing, "--model", tiny_bundle, capsys=capsys)
    assert code == 1 and "missing.wav" in out and "ERROR" in out and "file not found" in out


def test_help_gives_the_exit_statuses_the_readme_gives(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert "A bad file (missing, empty, corrupt, not audio, silent, too short) gets its own error line" in readme
    assert "the exit status is 1 when some file failed" in readme
    assert "A file that cannot be used (missing, empty, corrupt, not audio, silent, too short) gets its own error line" in text
    assert "1 when some files failed (a missing path too;" in text
    usage = text[text.index("2 for a usage error"):]
    assert "missing" not in usage


@pytest.mark.parametrize("name", ["results", "results.jsonl", "results.csv"])
def test_an_output_that_is_a_folder_is_one_error_line(clips, tiny_bundle, tmp_path, capsys, name):
    (tmp_path / name).mkdir()
    code, out, err = predict(clips, "--model", tiny_bundle, "--output", tmp_path / name, capsys=capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"serkit: error: --output {tmp_path / name} is a folder; name a file in it")
    assert list((tmp_path / name).iterdir()) == []


@pytest.mark.parametrize("name", ["out.txt", "out.jsonl"])
def test_an_output_that_cannot_be_written_is_one_error_line(clips, tiny_bundle, tmp_path, capsys, name):
    (tmp_path / "file").write_text("a file, not a folder")
    output = tmp_path / "file" / "sub" / name
    code, out, err = predict(clips, "--model", tiny_bundle, "--output", output, capsys=capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.strip() == f"serkit: error: --output {output} cannot be written: {tmp_path / 'file'} is not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_output_in_a_read_only_folder_is_one_error_line(clips, tiny_bundle, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = predict(clips, "--model", tiny_bundle, "--output", locked / "out.jsonl", capsys=capsys)
    assert code == 2 and "no permission to write in" in err and len(err.strip().splitlines()) == 1


def test_a_file_name_with_a_newline_keeps_one_table_row_per_file(tmp_path, tiny_bundle, capsys):
    odd = write_tone(tmp_path / "two\nlines\x1b[2J.wav", seconds=0.6)
    (tmp_path / "empty\tname.wav").write_bytes(b"")
    code, out, _ = predict(tmp_path, "--model", tiny_bundle, capsys=capsys)
    assert code == 1
    header, *rows = out.splitlines()
    assert len(rows) == 2 and "\x1b" not in out
    assert rows[0].startswith(str(tmp_path / "empty\\tname.wav")) and "ERROR" in rows[0]
    assert rows[1].startswith(str(tmp_path / "two\\nlines\\x1b[2J.wav"))
    assert rows[1].split()[1] in TINY_LABELS
    assert header.index("label") == rows[1].index(rows[1].split()[1])  # still aligned
    # jsonl and csv keep the real name (their quoting holds a newline).
    code, out, _ = predict(odd, "--model", tiny_bundle, "--format", "jsonl", capsys=capsys)
    assert jsonl(out)[0]["path"] == str(odd)


def test_an_unknown_model_is_one_error_line(clips, capsys):
    code, out, err = predict(clips, "--model", "no-such-model", capsys=capsys)
    assert code == 2 and out == ""
    assert err.startswith("serkit: error:") and "no-such-model" in err
    assert len(err.strip().splitlines()) == 1


def test_a_folder_without_audio_is_an_error(tmp_path, tiny_bundle, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.md").write_text("hi")
    code, _, err = predict(tmp_path / "docs", "--model", tiny_bundle, capsys=capsys)
    assert code == 2 and "no audio files" in err


def test_bad_jobs_is_an_error(clips, tiny_bundle, capsys):
    code, _, err = predict(clips, "--model", tiny_bundle, "--jobs", "0", capsys=capsys)
    assert code == 2 and "--jobs" in err


# --- the shipped example clips ------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "serkit" / "examples"


def test_the_shipped_examples_are_small_synthetic_clips():
    clips = sorted(EXAMPLES.glob("*.flac"))
    assert 4 <= len(clips) <= 6
    for clip in clips:
        info = sf.info(clip)
        assert (info.samplerate, info.channels, info.format) == (16_000, 1, "FLAC")
        assert 2.0 <= info.duration <= 4.0 and clip.stat().st_size < 100_000
    assert sum(c.stat().st_size for c in clips) < 400_000
    readme = (EXAMPLES / "README.md").read_text()
    assert "scripts/make_examples.py" in readme and "not acted emotional speech" in readme
    assert all(f"`{c.name}`" in readme for c in clips)


def test_predict_runs_on_the_shipped_examples(tiny_bundle, capsys):
    code, out, _ = predict(EXAMPLES, "--model", tiny_bundle, "--format", "jsonl", capsys=capsys)
    assert code == 0
    assert sorted(Path(r["path"]).name for r in jsonl(out)) == sorted(c.name for c in EXAMPLES.glob("*.flac"))


def test_counts_add_up_when_files_fail_and_a_run_resumes(clips, tiny_bundle, tmp_path, capsys):
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    out = tmp_path / "out.jsonl"
    code, _, err = predict(junk, clips / "tone0.wav", "--model", tiny_bundle, "--output", out, capsys=capsys)
    assert code == 1 and err.strip().endswith("2 files: 1 predicted, 1 failed")
    code, _, err = predict(junk, clips / "tone0.wav", "--model", tiny_bundle, "--output", out, capsys=capsys)
    # Nothing new: the error line already in the output still makes the status 1.
    assert code == 1 and err.strip().endswith(f"2 files: 0 predicted, 2 already in {out} (1 of them error lines), none failed")
