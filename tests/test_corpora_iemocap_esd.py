"""IEMOCAP and ESD loaders on fake trees in their release layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from serkit.corpora import check_corpus, load_corpus
from serkit.corpora import esd, iemocap
from serkit.errors import CorpusError
from serkit.labels import get_scheme
from tests.conftest import write_tone


def tone(path: Path, rate: int = 16_000) -> Path:
    return write_tone(path, seconds=0.05, rate=rate)


# ---------------------------------------------------------------- IEMOCAP

# (session, utterance id, label code, has audio)
IEMOCAP_LINES = [
    (1, "Ses01F_impro01_F000", "neu", True),
    (1, "Ses01F_impro01_M001", "fru", True),
    (1, "Ses01F_script02_2_M000", "exc", True),  # man of session 1 in an F-prefixed dialog
    (1, "Ses01F_script02_2_F003", "xxx", True),
    (2, "Ses02M_impro05a_F010", "hap", True),
    (2, "Ses02M_script01_1b_M020", "ang", True),
    (2, "Ses02M_impro05a_M011", "sad", False),  # labelled, audio missing
]
IEMOCAP_TRUTH = {
    # id: (speaker, gender, session, emotion, corpus label, mode)
    "Ses01F_impro01_F000": ("iemocap-Ses01F", "female", "Ses01", "neutral", "neu", "improvised"),
    "Ses01F_impro01_M001": ("iemocap-Ses01M", "male", "Ses01", "frustration", "fru", "improvised"),
    "Ses01F_script02_2_M000": ("iemocap-Ses01M", "male", "Ses01", "excitement", "exc", "scripted"),
    "Ses02M_impro05a_F010": ("iemocap-Ses02F", "female", "Ses02", "happiness", "hap", "improvised"),
    "Ses02M_script01_1b_M020": ("iemocap-Ses02M", "male", "Ses02", "anger", "ang", "scripted"),
}


def _iemocap_tree(root: Path) -> Path:
    release = root / "IEMOCAP_full_release"
    by_file: dict[tuple[int, str], list[str]] = {}
    for i, (session, uid, code, has_audio) in enumerate(IEMOCAP_LINES):
        dialog = uid.rsplit("_", 1)[0]
        line = f"[{i * 3.5:.4f} - {i * 3.5 + 2.25:.4f}]\t{uid}\t{code}\t[2.5000, 3.0000, 3.5000]"
        by_file.setdefault((session, dialog), []).append(line)
        if has_audio:
            tone(release / f"Session{session}" / "sentences" / "wav" / dialog / f"{uid}.wav")
    for (session, dialog), lines in by_file.items():
        txt = release / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        txt.parent.mkdir(parents=True, exist_ok=True)
        header = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        body = "".join(f"{line}\nC-E1:\tNeutral;\t()\nA-E2:\tval 3; act 3; dom  3;\t()\n\n" for line in lines)
        txt.write_text(header + body)
    # a macOS resource file, as found in some copies
    (release / "Session1" / "dialog" / "EmoEvaluation" / "._Ses01F_impro01.txt").write_bytes(b"\x00\x05junk")
    return release


def test_iemocap_fake_release(tmp_path):
    release = _iemocap_tree(tmp_path)
    corpus = load_corpus("iemocap", release)
    got = {u.id: (u.speaker, u.gender, u.session, u.emotion, u.corpus_label, u.extra["mode"]) for u in corpus}
    assert got == IEMOCAP_TRUTH
    script = {u.id: u for u in corpus}["Ses01F_script02_2_M000"]
    assert script.extra["dialog"] == "Ses01F_script02_2"
    assert script.extra["start_s"] == "7.0000"
    summary = check_corpus(corpus, durations=False)
    assert summary["missing"] == ["Ses02M_impro05a_M011"]


def test_iemocap_unlabelled_and_sessions(tmp_path):
    release = _iemocap_tree(tmp_path)
    corpus = load_corpus("iemocap", release, include_unlabelled=True)
    xxx = {u.id: u for u in corpus}["Ses01F_script02_2_F003"]
    assert (xxx.emotion, xxx.corpus_label, xxx.speaker) == ("other", "xxx", "iemocap-Ses01F")
    only2 = load_corpus("iemocap", release, sessions=[2])
    assert {u.session for u in only2} == {"Ses02"}
    assert only2.published is None


def test_iemocap_4class_scheme_merges_excitement(tmp_path):
    corpus = load_corpus("iemocap", _iemocap_tree(tmp_path)).with_scheme(get_scheme("4class"))
    assert {u.id: u.emotion for u in corpus} == {
        "Ses01F_impro01_F000": "neutral",
        "Ses01F_script02_2_M000": "happiness",
        "Ses02M_impro05a_F010": "happiness",
        "Ses02M_script01_1b_M020": "anger",
    }


def test_iemocap_errors(tmp_path):
    with pytest.raises(CorpusError, match="EmoEvaluation"):
        load_corpus("iemocap", tmp_path)
    with pytest.raises(CorpusError, match="Ses01F_impro01_F000"):
        iemocap.parse_filename("Ses1F_impro01_F000")
    with pytest.raises(CorpusError, match="sessions are 1-5"):
        load_corpus("iemocap", tmp_path, sessions=[6])


def test_iemocap_published_counts():
    assert iemocap.PUBLISHED_WITH_UNLABELLED.utterances == 10039
    assert iemocap.PUBLISHED_WITH_UNLABELLED.speakers == 10


# ---------------------------------------------------------------- ESD

ESD_TRUTH = {
    # id: (speaker, gender, language, emotion, split, text id)
    "0001_000001": ("esd-0001", "female", "zh", "neutral", "train", "001"),
    "0004_000400": ("esd-0004", "male", "zh", "anger", "evaluation", "050"),
    "0011_000351": ("esd-0011", "male", "en", "anger", "test", "001"),
    "0015_000701": ("esd-0015", "female", "en", "happiness", "train", "001"),
    "0020_001750": ("esd-0020", "male", "en", "surprise", "test", "350"),
    "0019_001100": ("esd-0019", "female", "en", "sadness", "evaluation", "050"),
}


def _esd_tree(root: Path) -> None:
    folders = {"neutral": "Neutral", "anger": "Angry", "happiness": "Happy", "sadness": "Sad", "surprise": "Surprise"}
    for uid, (_, _, _, emotion, split, _) in ESD_TRUTH.items():
        tone(root / "Emotion Speech Dataset" / uid[:4] / folders[emotion] / split / f"{uid}.wav")
    (root / "Emotion Speech Dataset" / "0011" / "0011.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "Emotion Speech Dataset" / "0011" / "0011.txt").write_text("0011_000001\tAuthor of the danger trail.\tNeutral\n")


def test_esd_fake_release(tmp_path):
    _esd_tree(tmp_path)
    corpus = load_corpus("esd", tmp_path)
    got = {u.id: (u.speaker, u.gender, u.language, u.emotion, u.official_split, u.text_id) for u in corpus}
    assert got == ESD_TRUTH
    english = load_corpus("esd", tmp_path, languages="en")
    assert sorted(u.id for u in english) == ["0011_000351", "0015_000701", "0019_001100", "0020_001750"]
    assert english.published.utterances == 17500 and english.published.speakers == 10


def test_esd_without_split_folders(tmp_path):
    tone(tmp_path / "0013" / "Sad" / "0013_001051.wav")
    (u,) = load_corpus("esd", tmp_path).utterances
    assert (u.speaker, u.emotion, u.official_split, u.gender) == ("esd-0013", "sadness", None, "male")


def test_esd_errors(tmp_path):
    tone(tmp_path / "0012" / "Angry" / "train" / "0013_000400.wav")
    with pytest.raises(CorpusError, match="lies in the folder '0012'"):
        load_corpus("esd", tmp_path)
    with pytest.raises(CorpusError, match="0021"):
        esd.parse_filename("0021_000001.wav")
    with pytest.raises(CorpusError, match="001751"):
        esd.parse_filename("0001_001751.wav")


def test_esd_gender_table_is_balanced():
    genders = [g for _, g in esd.SPEAKERS.values()]
    assert genders.count("male") == 10 and genders.count("female") == 10
