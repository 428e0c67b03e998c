"""Loaders of the acted corpora on fake trees in their real layouts.

Each truth table below is written out by hand from the corpora's documentation, not
computed with the parsers' code tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serkit.corpora import check_corpus, load_corpus
from serkit.corpora import cremad, emodb, emovo, ravdess, savee, tess
from serkit.errors import CorpusError
from tests.conftest import write_tone

TINY = 0.05


def tone(path: Path, rate: int = 16_000) -> Path:
    return write_tone(path, seconds=TINY, rate=rate)


def by_id(corpus):
    return {u.id: u for u in corpus}


# ---------------------------------------------------------------- EmoDB

EMODB_TRUTH = {
    # file stem: (speaker, gender, text, emotion, corpus label)
    "03a01Fa": ("emodb-03", "male", "a01", "happiness", "F"),
    "08b10Wb": ("emodb-08", "female", "b10", "anger", "W"),
    "16a05Lc": ("emodb-16", "female", "a05", "boredom", "L"),
    "15b02Ea": ("emodb-15", "male", "b02", "disgust", "E"),
    "09a04Aa": ("emodb-09", "female", "a04", "fear", "A"),
    "12b03Td": ("emodb-12", "male", "b03", "sadness", "T"),
    "13a07Na": ("emodb-13", "female", "a07", "neutral", "N"),
}


def test_emodb_fake_tree(tmp_path):
    for stem in EMODB_TRUTH:
        tone(tmp_path / "wav" / f"{stem}.wav")
    (tmp_path / "erklaerung.txt").write_text("not audio")
    corpus = load_corpus("emodb", tmp_path)
    got = {u.id: (u.speaker, u.gender, u.text_id, u.emotion, u.corpus_label) for u in corpus}
    assert got == EMODB_TRUTH
    assert {u.language for u in corpus} == {"de"}
    assert [u.id for u in corpus] == sorted(EMODB_TRUTH)


@pytest.mark.parametrize("name", ["03a01Xa", "04a01Fa", "3a01Fa", "03c01Fa"])
def test_emodb_bad_names_raise(name):
    with pytest.raises(CorpusError, match=name):
        emodb.parse_filename(f"{name}.wav")


# ---------------------------------------------------------------- RAVDESS

RAVDESS_TRUTH = {
    # stem: (speaker, gender, emotion, intensity, statement)
    "03-01-05-02-01-01-12": ("ravdess-12", "female", "anger", "strong", "01"),
    "03-01-01-01-02-02-01": ("ravdess-01", "male", "neutral", "normal", "02"),
    "03-01-02-01-01-01-07": ("ravdess-07", "male", "calm", "normal", "01"),
    "03-01-03-02-02-01-24": ("ravdess-24", "female", "happiness", "strong", "02"),
    "03-01-04-01-01-02-13": ("ravdess-13", "male", "sadness", "normal", "01"),
    "03-01-06-02-01-01-02": ("ravdess-02", "female", "fear", "strong", "01"),
    "03-01-07-01-02-01-23": ("ravdess-23", "male", "disgust", "normal", "02"),
    "03-01-08-02-02-02-18": ("ravdess-18", "female", "surprise", "strong", "02"),
}
RAVDESS_SONG = "03-02-06-02-01-01-05"


def _ravdess_tree(root: Path) -> None:
    for stem in RAVDESS_TRUTH:
        actor = stem[-2:]
        # Mixed formats and rates, as users have them (.wav at 48 kHz / 44.1 kHz, .flac).
        if stem.endswith("12"):
            tone(root / "Audio_Speech_Actors_01-24" / f"Actor_{actor}" / f"{stem}.wav", rate=44_100)
        elif int(actor) % 3 == 0:
            tone(root / "Audio_Speech_Actors_01-24" / f"Actor_{actor}" / f"{stem}.flac")
        else:
            tone(root / "Audio_Speech_Actors_01-24" / f"Actor_{actor}" / f"{stem}.wav", rate=48_000)
    tone(root / "Audio_Song_Actors_01-24" / "Actor_05" / f"{RAVDESS_SONG}.wav", rate=48_000)


def test_ravdess_speech_only_by_default(tmp_path):
    _ravdess_tree(tmp_path)
    corpus = load_corpus("ravdess", tmp_path)
    got = {u.id: (u.speaker, u.gender, u.emotion, u.intensity, u.text_id) for u in corpus}
    assert got == RAVDESS_TRUTH
    assert {u.extra["vocal_channel"] for u in corpus} == {"speech"}
    summary = check_corpus(corpus)
    assert summary["sample_rates"] == {"16000": 2, "44100": 1, "48000": 5}  # actors 18, 24 flac; 12 at 44.1 kHz
    assert summary["duration_s"]["min"] == pytest.approx(TINY, abs=1e-3)
    assert summary["duration_s"]["total"] == pytest.approx(8 * TINY, abs=1e-2)
    assert len(summary["missing"]) == 1440 - 8
    assert summary["differences"]["utterances"] == 8 - 1440


def test_ravdess_song_on_request(tmp_path):
    _ravdess_tree(tmp_path)
    corpus = load_corpus("ravdess", tmp_path, song=True)
    song = by_id(corpus)[RAVDESS_SONG]
    assert (song.speaker, song.gender, song.emotion, song.intensity) == ("ravdess-05", "male", "fear", "strong")
    assert song.extra["vocal_channel"] == "song"
    assert corpus.published.utterances == 1440 + 1012


@pytest.mark.parametrize(
    "name, message",
    [
        ("03-01-05-02-01-12.wav", "7 dash-separated fields, not 6"),
        ("03-01-05-02-01-01-01-12.wav", "7 dash-separated fields, not 8"),
        ("03-01-09-02-01-01-12.wav", "emotion field"),
        ("03-01-05-03-01-01-12.wav", "intensity field"),
        ("03-01-05-02-01-01-25.wav", "actor field"),
        ("03-01-01-02-01-01-12.wav", "neutral"),
    ],
)
def test_ravdess_bad_names_raise(name, message):
    with pytest.raises(CorpusError, match=message):
        ravdess.parse_filename(name)


def test_ravdess_bad_file_in_tree_is_named(tmp_path):
    _ravdess_tree(tmp_path)
    tone(tmp_path / "Audio_Speech_Actors_01-24" / "Actor_03" / "03-01-05-02-01-03.wav")
    with pytest.raises(CorpusError, match=r"not 6: '03-01-05-02-01-03.wav'"):
        load_corpus("ravdess", tmp_path)


def test_ravdess_complete_id_list():
    assert len(ravdess.complete_ids()) == 1440
    assert len(ravdess.complete_ids(song=True)) == 1440 + 1012
    assert "03-01-01-02-01-01-01" not in ravdess.complete_ids()  # no strong neutral


# ---------------------------------------------------------------- TESS

TESS_TRUTH = {
    # (folder, file stem): (id, speaker, emotion, corpus label, word)
    ("OAF_Fear", "OAF_back_fear"): ("OAF_back_fear", "tess-OAF", "fear", "fear", "back"),
    ("OAF_fear", "OAF_bath_fear"): ("OAF_bath_fear", "tess-OAF", "fear", "fear", "bath"),
    ("YAF_pleasant_surprised", "YAF_dog_ps"): ("YAF_dog_ps", "tess-YAF", "surprise", "ps", "dog"),
    ("OAF_Pleasant_surprise", "OAF_dog_ps"): ("OAF_dog_ps", "tess-OAF", "surprise", "ps", "dog"),
    ("OAF_neutral", "OA_bite_neutral"): ("OAF_bite_neutral", "tess-OAF", "neutral", "neutral", "bite"),
    ("YAF_angry", "YAF_back_angry"): ("YAF_back_angry", "tess-YAF", "anger", "angry", "back"),
    ("YAF_disgust", "YAF_bath_disgust"): ("YAF_bath_disgust", "tess-YAF", "disgust", "disgust", "bath"),
    ("YAF_happy", "YAF_bite_happy"): ("YAF_bite_happy", "tess-YAF", "happiness", "happy", "bite"),
    ("YAF_sad", "YAF_dog_sad"): ("YAF_dog_sad", "tess-YAF", "sadness", "sad", "dog"),
}


def test_tess_folder_variants_and_quirks(tmp_path):
    data = tmp_path / "TESS Toronto emotional speech set data"
    for (folder, stem) in TESS_TRUTH:
        tone(data / folder / f"{stem}.wav", rate=24_414)
    corpus = load_corpus("tess", tmp_path)
    got = {u.id: (u.id, u.speaker, u.emotion, u.corpus_label, u.text_id) for u in corpus}
    assert got == {truth[0]: truth for truth in TESS_TRUTH.values()}
    assert {u.gender for u in corpus} == {"female"}
    assert "file_name_quirk" in by_id(corpus)["OAF_bite_neutral"].extra
    summary = check_corpus(corpus)
    # words back, bath, bite, dog × 2 speakers × 7 emotions = 56 expected in a complete copy
    assert len(summary["missing"]) == 56 - len(TESS_TRUTH)
    assert "OAF_back_angry" in summary["missing"]
    assert summary["extra"] == []
    assert any("missing" in w for w in summary["warnings"])


def test_tess_same_recording_twice_is_an_error(tmp_path):
    tone(tmp_path / "OAF_neutral" / "OA_bite_neutral.wav")
    tone(tmp_path / "OAF_Neutral" / "OAF_bite_neutral.wav")
    with pytest.raises(CorpusError, match="OAF_bite_neutral"):
        load_corpus("tess", tmp_path)


@pytest.mark.parametrize("name", ["OAF_back.wav", "XYZ_back_angry.wav", "OAF_back_joy.wav", "OAF_back_side_angry.wav"])
def test_tess_bad_names_raise(name):
    with pytest.raises(CorpusError, match="TESS"):
        tess.parse_filename(name)


# ---------------------------------------------------------------- SAVEE

SAVEE_TRUTH = {
    "DC_a01": ("savee-DC", "anger", "a"),
    "JE_sa07": ("savee-JE", "sadness", "sa"),
    "JK_su15": ("savee-JK", "surprise", "su"),
    "KL_n30": ("savee-KL", "neutral", "n"),
    "DC_d02": ("savee-DC", "disgust", "d"),
    "KL_f10": ("savee-KL", "fear", "f"),
    "JE_h03": ("savee-JE", "happiness", "h"),
}


def test_savee_flat_layout(tmp_path):
    for stem in SAVEE_TRUTH:
        tone(tmp_path / "ALL" / f"{stem}.wav", rate=44_100)
    corpus = load_corpus("savee", tmp_path)
    assert {u.id: (u.speaker, u.emotion, u.corpus_label) for u in corpus} == SAVEE_TRUTH
    assert {u.gender for u in corpus} == {"male"}


def test_savee_per_speaker_layout(tmp_path):
    for stem in SAVEE_TRUTH:
        speaker, code = stem.split("_")
        tone(tmp_path / "AudioData" / speaker / f"{code}.wav", rate=44_100)
    (tmp_path / "AudioData" / "Info.txt").write_text("not audio")
    corpus = load_corpus("savee", tmp_path)
    assert {u.id: (u.speaker, u.emotion, u.corpus_label) for u in corpus} == SAVEE_TRUTH


def test_savee_both_layouts_of_one_file_is_an_error(tmp_path):
    tone(tmp_path / "DC_a01.wav")
    tone(tmp_path / "AudioData" / "DC" / "a01.wav")
    with pytest.raises(CorpusError, match="DC_a01"):
        load_corpus("savee", tmp_path)


@pytest.mark.parametrize("name", ["XX_a01.wav", "DC_x01.wav", "DC_a16.wav", "a01.wav", "DC-a01.wav"])
def test_savee_bad_names_raise(name):
    with pytest.raises(CorpusError, match="SAVEE"):
        savee.parse_filename(name)


# ---------------------------------------------------------------- CASIA

CASIA_TRUTH = {
    ("wangzhe", "angry", "201"): ("casia-wangzhe", "male", "anger"),
    ("ZhaoZuoxiang", "surprise", "250"): ("casia-ZhaoZuoxiang", "male", "surprise"),
    ("liuchanhg", "happy", "213"): ("casia-liuchanhg", "female", "happiness"),
    ("zhaoquanyin", "sad", "222"): ("casia-zhaoquanyin", "female", "sadness"),
    ("liuchanhg", "fear", "240"): ("casia-liuchanhg", "female", "fear"),
    ("wangzhe", "neutral", "205"): ("casia-wangzhe", "male", "neutral"),
}


def test_casia_fake_tree(tmp_path):
    for speaker, emotion, number in CASIA_TRUTH:
        tone(tmp_path / "CASIA" / speaker / emotion / f"{number}.wav")
    (tmp_path / "CASIA" / "wangzhe" / "angry" / "201.lab").write_text("side file")
    corpus = load_corpus("casia", tmp_path)
    got = {(u.speaker.split("-")[1], u.corpus_label, u.text_id): (u.speaker, u.gender, u.emotion) for u in corpus}
    assert got == CASIA_TRUTH
    assert {u.language for u in corpus} == {"zh"}


def test_casia_file_outside_layout_raises(tmp_path):
    tone(tmp_path / "wangzhe" / "angry" / "201.wav")
    tone(tmp_path / "wangzhe" / "bored" / "201.wav")
    with pytest.raises(CorpusError, match="'bored'"):
        load_corpus("casia", tmp_path)


# ---------------------------------------------------------------- CREMA-D

CREMAD_TRUTH = {
    "1001_DFA_ANG_XX": ("cremad-1001", "male", "anger", "unspecified", "DFA"),
    "1002_IEO_HAP_HI": ("cremad-1002", "female", "happiness", "high", "IEO"),
    "1002_IEO_SAD_LO": ("cremad-1002", "female", "sadness", "low", "IEO"),
    "1091_TSI_NEU_XX": ("cremad-1091", "female", "neutral", "unspecified", "TSI"),
    "1001_IEO_FEA_MD": ("cremad-1001", "male", "fear", "medium", "IEO"),
    "1091_WSI_DIS_XX": ("cremad-1091", "female", "disgust", "unspecified", "WSI"),
}


def test_cremad_with_demographics(tmp_path):
    for stem in CREMAD_TRUTH:
        tone(tmp_path / "AudioWAV" / f"{stem}.wav")
    (tmp_path / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n1091,29,Female,Asian,Not Hispanic\n"
    )
    corpus = load_corpus("cremad", tmp_path / "AudioWAV")  # found beside the audio folder
    got = {u.id: (u.speaker, u.gender, u.emotion, u.intensity, u.text_id) for u in corpus}
    assert got == CREMAD_TRUTH
    assert by_id(corpus)["1001_DFA_ANG_XX"].extra["age"] == "51"


def test_cremad_without_demographics_and_x_quirk(tmp_path):
    tone(tmp_path / "AudioWAV" / "1040_ITH_SAD_X.wav")
    corpus = load_corpus("cremad", tmp_path)
    (u,) = corpus.utterances
    assert (u.id, u.gender, u.emotion, u.intensity) == ("1040_ITH_SAD_XX", None, "sadness", "unspecified")


@pytest.mark.parametrize("name", ["1001_DFA_ANG.wav", "0999_DFA_ANG_XX.wav", "1001_ABC_ANG_XX.wav", "1001_DFA_JOY_XX.wav", "1001_DFA_ANG_ZZ.wav"])
def test_cremad_bad_names_raise(name):
    with pytest.raises(CorpusError, match="CREMA-D"):
        cremad.parse_filename(name)


# ---------------------------------------------------------------- EMOVO

EMOVO_TRUTH = {
    "dis-f1-b1": ("emovo-f1", "female", "disgust", "b1"),
    "gio-m2-l4": ("emovo-m2", "male", "happiness", "l4"),
    "neu-f3-n5": ("emovo-f3", "female", "neutral", "n5"),
    "pau-m1-d2": ("emovo-m1", "male", "fear", "d2"),
    "rab-m3-b3": ("emovo-m3", "male", "anger", "b3"),
    "sor-f2-l1": ("emovo-f2", "female", "surprise", "l1"),
    "tri-f1-n1": ("emovo-f1", "female", "sadness", "n1"),
}


def test_emovo_fake_tree(tmp_path):
    for stem in EMOVO_TRUTH:
        tone(tmp_path / "EMOVO" / stem.split("-")[1] / f"{stem}.wav", rate=48_000)
    corpus = load_corpus("emovo", tmp_path)
    assert {u.id: (u.speaker, u.gender, u.emotion, u.text_id) for u in corpus} == EMOVO_TRUTH
    assert {u.language for u in corpus} == {"it"}
    assert len(check_corpus(corpus, durations=False)["missing"]) == 588 - 7


@pytest.mark.parametrize("name", ["dis-f1.wav", "xyz-f1-b1.wav", "dis-f4-b1.wav", "dis-f1-b4.wav"])
def test_emovo_bad_names_raise(name):
    with pytest.raises(CorpusError, match="EMOVO"):
        emovo.parse_filename(name)
