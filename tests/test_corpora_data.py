"""Loaders on the real corpora in ../shared/data (skipped where absent).

Expected numbers are those of ../shared/data/README.md and the corpora's documentation.
"""

from __future__ import annotations

from collections import Counter

import pytest

from serkit.corpora import check_corpus, format_check, load_corpus
from tests.conftest import corpus_root

pytestmark = pytest.mark.data

EXPECTED = {
    # name: (utterances, speakers, per-label counts, speaker → gender)
    "emodb": (
        535,
        10,
        {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79},
        {**{f"emodb-{s}": "male" for s in ("03", "10", "11", "12", "15")},
         **{f"emodb-{s}": "female" for s in ("08", "09", "13", "14", "16")}},
    ),
    "ravdess": (
        1440,
        24,
        {"neutral": 96, "calm": 192, "happiness": 192, "sadness": 192, "anger": 192, "fear": 192,
         "disgust": 192, "surprise": 192},
        {f"ravdess-{a:02d}": ("male" if a % 2 else "female") for a in range(1, 25)},
    ),
    "tess": (
        2798,
        2,
        {"anger": 399, "disgust": 400, "fear": 400, "happiness": 400, "neutral": 400, "surprise": 400, "sadness": 399},
        {"tess-OAF": "female", "tess-YAF": "female"},
    ),
    "savee": (
        480,
        4,
        {"anger": 60, "disgust": 60, "fear": 60, "happiness": 60, "sadness": 60, "surprise": 60, "neutral": 120},
        {"savee-DC": "male", "savee-JE": "male", "savee-JK": "male", "savee-KL": "male"},
    ),
    "casia": (
        1200,
        4,
        {"anger": 200, "fear": 200, "happiness": 200, "neutral": 200, "sadness": 200, "surprise": 200},
        {"casia-wangzhe": "male", "casia-ZhaoZuoxiang": "male", "casia-liuchanhg": "female",
         "casia-zhaoquanyin": "female"},
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_corpus_counts(name):
    n_utts, n_speakers, labels, genders = EXPECTED[name]
    corpus = load_corpus(name, corpus_root(name))
    assert len(corpus) == n_utts
    assert len(corpus.speakers) == n_speakers
    assert corpus.label_counts() == dict(sorted(labels.items()))
    assert {u.speaker: u.gender for u in corpus} == genders
    assert len({u.id for u in corpus}) == len(corpus)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"tess"}))
def test_real_corpus_check_has_no_warnings(name):
    summary = check_corpus(load_corpus(name, corpus_root(name)))
    assert summary["warnings"] == []
    assert summary["unreadable"] == []
    assert summary["sample_rates"] == {"16000": EXPECTED[name][0]}
    assert 0.5 < summary["duration_s"]["min"] <= summary["duration_s"]["mean"] <= summary["duration_s"]["max"] < 15


def test_real_tess_reports_two_missing_files_as_warnings():
    corpus = load_corpus("tess", corpus_root("tess"))
    summary = check_corpus(corpus, durations=False)
    assert summary["missing"] == ["OAF_back_angry", "YAF_beg_sad"]
    assert summary["extra"] == []
    assert summary["differences"]["utterances"] == -2
    assert summary["differences"]["labels"] == {"anger": -1, "sadness": -1}
    assert any("OAF_back_angry" in w for w in summary["warnings"])
    quirk = {u.id: u for u in corpus}["OAF_bite_neutral"]
    assert quirk.path.name == "OA_bite_neutral.flac" and quirk.speaker == "tess-OAF"
    assert "2 missing" in format_check(summary)


def test_real_ravdess_fields():
    corpus = load_corpus("ravdess", corpus_root("ravdess"))
    assert Counter(u.intensity for u in corpus) == {"normal": 768, "strong": 672}
    assert Counter(u.text_id for u in corpus) == {"01": 720, "02": 720}
    u = {u.id: u for u in corpus}["03-01-05-02-01-01-12"]
    assert (u.emotion, u.intensity, u.speaker, u.gender) == ("anger", "strong", "ravdess-12", "female")


def test_real_casia_and_emodb_text_ids():
    casia = load_corpus("casia", corpus_root("casia"))
    assert {u.text_id for u in casia} == {str(n) for n in range(201, 251)}
    emodb = load_corpus("emodb", corpus_root("emodb"))
    # the ten sentences of the EmoDB documentation
    assert {u.text_id for u in emodb} == {"a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"}
