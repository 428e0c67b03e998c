"""Folder-per-label and CSV-manifest loaders, load_corpus, check_corpus and format_check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serkit.corpora import CORPORA, LOADERS, check_corpus, format_check, load_corpus, loader_options, with_durations
from serkit.errors import ConfigError, CorpusError
from serkit.labels import EMOTIONS
from tests.conftest import write_tone


def tone(path: Path, rate: int = 16_000) -> Path:
    return write_tone(path, seconds=0.05, rate=rate)


# ---------------------------------------------------------------- folder


def test_folder_tree_maps_common_names(tmp_path):
    truth = {
        "Angry/a1": "anger",
        "happy/sub/h1": "happiness",
        "Fearful/f1": "fear",
        "pleasant_surprise/p1": "surprise",
        "neutral/n1": "neutral",
        "calm/c1": "calm",
        "sad/s1": "sadness",
    }
    for i, rel in enumerate(truth):
        tone(tmp_path / f"{rel}{'.flac' if i % 2 else '.wav'}", rate=44_100 if i % 3 else 16_000)
    (tmp_path / "sad" / "notes.txt").write_text("skip me")
    corpus = load_corpus("folder", tmp_path, language="en")
    assert {u.id: u.emotion for u in corpus} == truth
    assert {u.id: u.corpus_label for u in corpus}["Angry/a1"] == "Angry"
    assert corpus.published is None
    summary = check_corpus(corpus)
    assert summary["warnings"] == [] and summary["published"] is None
    assert sum(summary["sample_rates"].values()) == len(truth)


def test_folder_unknown_label_names_are_listed(tmp_path):
    tone(tmp_path / "angry" / "a.wav")
    tone(tmp_path / "angyr" / "b.wav")
    tone(tmp_path / "misc" / "c.wav")
    with pytest.raises(CorpusError, match=r"'angyr', 'misc'.*rename them"):
        load_corpus("folder", tmp_path)


def test_folder_loose_files_and_empty(tmp_path):
    with pytest.raises(CorpusError, match=r"no audio files \(wav, flac, ogg"):
        load_corpus("folder", tmp_path)
    tone(tmp_path / "x.wav")
    with pytest.raises(CorpusError, match="directly in"):
        load_corpus("folder", tmp_path)


# ---------------------------------------------------------------- CSV


def test_csv_manifest(tmp_path):
    tone(tmp_path / "audio" / "one.wav")
    tone(tmp_path / "audio" / "two.flac", rate=22_050)
    absolute = tone(tmp_path / "elsewhere" / "three.wav")
    manifest = tmp_path / "data.csv"
    manifest.write_text(
        "path,label,speaker,gender,language,session_note\n"
        "audio/one.wav,angry,s1,F,en,first\n"
        "audio/two.flac,happiness,s2,male,en,\n"
        f"{absolute},Neutral,,,,\n"
    )
    corpus = load_corpus("csv", manifest)
    got = {u.id: (u.emotion, u.corpus_label, u.speaker, u.gender, u.language) for u in corpus}
    assert got == {
        "audio/one": ("anger", "angry", "csv-s1", "female", "en"),
        "audio/two": ("happiness", "happiness", "csv-s2", "male", "en"),
        "elsewhere/three": ("neutral", "Neutral", None, None, None),
    }
    assert {u.id: dict(u.extra) for u in corpus}["audio/one"] == {"session_note": "first"}


def test_csv_corpus_column_and_prefixed_speakers(tmp_path):
    tone(tmp_path / "a.wav")
    tone(tmp_path / "b.wav")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,speaker,corpus,id\na.wav,sad,ravdess-12,ravdess,x1\nb.wav,sad,07,emodb,x2\n")
    corpus = load_corpus("csv", manifest, corpus_name="mine")
    assert [(u.id, u.corpus, u.speaker) for u in corpus] == [
        ("x1", "ravdess", "ravdess-12"),
        ("x2", "emodb", "emodb-07"),
    ]


@pytest.mark.parametrize(
    "body, message",
    [
        ("file,emotion\na.wav,sad\n", "needs the header columns path,label"),
        ("path,label\na.wav,sad\nmissing.wav,sad\n", r"row 2 \(line 3\): audio file 'missing.wav' not found"),
        ("path,label\na.wav,sorrowful\n", r"row 1 .*label 'sorrowful' is not an emotion"),
        ("path,label,gender\na.wav,sad,x\n", r"row 1 .*gender must be female or male"),
        ("path,label\n", "no rows"),
        ("path,label\na.wav,sad\na.wav,sad\n", "two files give the utterance id 'a'"),
    ],
)
def test_csv_errors(tmp_path, body, message):
    tone(tmp_path / "a.wav")
    manifest = tmp_path / "m.csv"
    manifest.write_text(body)
    with pytest.raises(CorpusError, match=message):
        load_corpus("csv", manifest)


def test_csv_missing_manifest(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus("csv", tmp_path / "nope.csv")


# ---------------------------------------------------------------- registry and check


def test_every_listed_corpus_is_registered():
    assert sorted(info.name for info in CORPORA) == LOADERS.names()


def test_unknown_corpus_and_option():
    with pytest.raises(ConfigError, match="Did you mean 'ravdess'"):
        load_corpus("ravdes", ".")
    with pytest.raises(ConfigError, match="corpus 'ravdess' has no parameter 'sing' \\(did you mean 'song'\\?\\); valid parameters: song"):
        load_corpus("ravdess", ".", sing=True)
    assert loader_options("iemocap") == ["sessions", "include_unlabelled"]


@pytest.mark.parametrize("name", [n for n in LOADERS.names() if n != "csv"])
def test_missing_folder_is_a_corpus_error(tmp_path, name):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(name, tmp_path / "absent")


def test_check_summary_is_json_and_formats(tmp_path):
    tone(tmp_path / "wav" / "03a01Fa.wav")
    tone(tmp_path / "wav" / "08a01Wa.flac", rate=48_000)
    corpus = load_corpus("emodb", tmp_path)
    summary = json.loads(json.dumps(check_corpus(corpus)))
    for key in ("utterances", "speakers", "labels", "genders", "sample_rates", "duration_s", "differences", "warnings"):
        assert key in summary
    assert summary["utterances"] == 2 and summary["speakers"] == 2
    assert summary["genders"] == {"female": 1, "male": 1}
    assert summary["sample_rates"] == {"16000": 1, "48000": 1}
    assert set(summary["duration_s"]) == {"min", "mean", "max", "total"}
    assert summary["differences"]["utterances"] == 2 - 535
    assert summary["differences"]["labels"]["boredom"] == -81
    assert summary["missing"] is None  # EmoDB's file list is not determinable
    text = format_check(summary)
    assert "utterances: 2 (published 535)" in text and "warnings" in text
    assert all(u.duration_s == pytest.approx(0.05, abs=1e-3) for u in with_durations(corpus))


def test_check_reports_unreadable_files(tmp_path):
    tone(tmp_path / "wav" / "03a01Fa.wav")
    (tmp_path / "wav" / "03a02Fa.wav").write_bytes(b"not audio at all")
    summary = check_corpus(load_corpus("emodb", tmp_path))
    assert len(summary["unreadable"]) == 1 and "03a02Fa" in summary["unreadable"][0]
    assert any("unreadable" in w for w in summary["warnings"])


def test_loaders_emit_canonical_emotions_only():
    from serkit.corpora import casia, cremad, emodb, emovo, esd, iemocap, ravdess, savee, tess

    for module in (casia, cremad, emodb, emovo, esd, iemocap, ravdess, savee, tess):
        assert set(module.EMOTIONS.values()) <= set(EMOTIONS), module.__name__
        if module.PUBLISHED.labels is not None:
            assert sum(module.PUBLISHED.labels.values()) == module.PUBLISHED.utterances, module.__name__
