"""Every corpus under every label scheme: which corpus label becomes which class, and which
are dropped, from a truth table written by hand from the corpora's documentation
(../shared/data/README.md, the corpus papers and release notes), not from serkit's tables.

The real-data tests then check the class counts each scheme gives on the corpora in
../shared/data against the published per-emotion counts.
"""

from __future__ import annotations

import importlib
from collections import Counter

import pytest

from serkit.corpora import load_corpus
from serkit.labels import EMOTIONS, SCHEMES, LabelScheme, get_scheme
from tests.conftest import corpus_root

SCHEME_NAMES = ("all", "4class", "4class-strict", "ekman+neutral", "5class", "emodb6", "casia6")

#: corpus, its own label, what the label means (documentation), then the class under
#: all / 4class / 4class-strict / ekman+neutral / 5class / emodb6 / casia6 ("-" = dropped).
TRUTH = """
emodb    W          anger        anger        anger      anger      anger      anger      anger      anger
emodb    L          boredom      boredom      -          -          -          -          -          -
emodb    E          disgust      disgust      -          -          disgust    -          disgust    -
emodb    A          fear         fear         -          -          fear       fear       fear       fear
emodb    F          happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
emodb    T          sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
emodb    N          neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
ravdess  01         neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
ravdess  02         calm         calm         -          -          -          -          -          -
ravdess  03         happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
ravdess  04         sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
ravdess  05         anger        anger        anger      anger      anger      anger      anger      anger
ravdess  06         fear         fear         -          -          fear       fear       fear       fear
ravdess  07         disgust      disgust      -          -          disgust    -          disgust    -
ravdess  08         surprise     surprise     -          -          surprise   -          -          surprise
tess     angry      anger        anger        anger      anger      anger      anger      anger      anger
tess     disgust    disgust      disgust      -          -          disgust    -          disgust    -
tess     fear       fear         fear         -          -          fear       fear       fear       fear
tess     happy      happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
tess     neutral    neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
tess     ps         surprise     surprise     -          -          surprise   -          -          surprise
tess     sad        sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
savee    a          anger        anger        anger      anger      anger      anger      anger      anger
savee    d          disgust      disgust      -          -          disgust    -          disgust    -
savee    f          fear         fear         -          -          fear       fear       fear       fear
savee    h          happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
savee    n          neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
savee    sa         sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
savee    su         surprise     surprise     -          -          surprise   -          -          surprise
casia    angry      anger        anger        anger      anger      anger      anger      anger      anger
casia    fear       fear         fear         -          -          fear       fear       fear       fear
casia    happy      happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
casia    neutral    neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
casia    sad        sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
casia    surprise   surprise     surprise     -          -          surprise   -          -          surprise
iemocap  neu        neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
iemocap  hap        happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
iemocap  exc        excitement   excitement   happiness  -          -          -          -          -
iemocap  sad        sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
iemocap  ang        anger        anger        anger      anger      anger      anger      anger      anger
iemocap  fru        frustration  frustration  -          -          -          -          -          -
iemocap  sur        surprise     surprise     -          -          surprise   -          -          surprise
iemocap  fea        fear         fear         -          -          fear       fear       fear       fear
iemocap  dis        disgust      disgust      -          -          disgust    -          disgust    -
iemocap  oth        other        other        -          -          -          -          -          -
esd      Angry      anger        anger        anger      anger      anger      anger      anger      anger
esd      Happy      happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
esd      Neutral    neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
esd      Sad        sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
esd      Surprise   surprise     surprise     -          -          surprise   -          -          surprise
cremad   ANG        anger        anger        anger      anger      anger      anger      anger      anger
cremad   DIS        disgust      disgust      -          -          disgust    -          disgust    -
cremad   FEA        fear         fear         -          -          fear       fear       fear       fear
cremad   HAP        happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
cremad   NEU        neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
cremad   SAD        sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
emovo    dis        disgust      disgust      -          -          disgust    -          disgust    -
emovo    gio        happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
emovo    neu        neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
emovo    pau        fear         fear         -          -          fear       fear       fear       fear
emovo    rab        anger        anger        anger      anger      anger      anger      anger      anger
emovo    sor        surprise     surprise     -          -          surprise   -          -          surprise
emovo    tri        sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
ased     n          neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
ased     f          fear         fear         -          -          fear       fear       fear       fear
ased     h          happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
ased     s          sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
ased     a          anger        anger        anger      anger      anger      anger      anger      anger
nemo     anger      anger        anger        anger      anger      anger      anger      anger      anger
nemo     fear       fear         fear         -          -          fear       fear       fear       fear
nemo     happiness  happiness    happiness    happiness  happiness  happiness  happiness  happiness  happiness
nemo     neutral    neutral      neutral      neutral    neutral    neutral    neutral    neutral    neutral
nemo     sadness    sadness      sadness      sadness    sadness    sadness    sadness    sadness    sadness
nemo     surprised  surprise     surprise     -          -          surprise   -          -          surprise
"""

ROWS = [line.split() for line in TRUTH.strip().splitlines()]
CORPORA = sorted({row[0] for row in ROWS})


def truth_of(corpus: str) -> dict[str, list[str]]:
    return {row[1]: row[2:] for row in ROWS if row[0] == corpus}


def test_the_truth_table_is_well_formed():
    assert all(len(row) == 3 + len(SCHEME_NAMES) for row in ROWS)
    assert all(row[2] in EMOTIONS for row in ROWS)
    assert set(SCHEMES.names()) == set(SCHEME_NAMES)


@pytest.mark.parametrize("corpus", CORPORA)
def test_the_loader_maps_each_corpus_label_to_its_documented_emotion(corpus):
    table = importlib.import_module(f"serkit.corpora.{corpus}").EMOTIONS
    assert dict(table) == {label: row[0] for label, row in truth_of(corpus).items()}


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@pytest.mark.parametrize("corpus", CORPORA)
def test_each_scheme_keeps_merges_and_drops_as_documented(corpus, scheme):
    column = 1 + SCHEME_NAMES.index(scheme)
    rules = get_scheme(scheme)
    for label, row in truth_of(corpus).items():
        expected = None if row[column] == "-" else row[column]
        assert rules.label_of(row[0]) == expected, f"{corpus} {label} ({row[0]}) under {scheme}"


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
def test_classes_of_a_scheme_are_the_sorted_kept_labels(scheme):
    column = 1 + SCHEME_NAMES.index(scheme)
    for corpus in CORPORA:
        rows = truth_of(corpus).values()
        expected = sorted({row[column] for row in rows} - {"-"})
        assert get_scheme(scheme).classes([row[0] for row in rows]) == expected


def test_the_five_shared_corpora_share_exactly_the_5class_classes():
    for corpus in ("emodb", "ravdess", "tess", "savee", "casia"):
        assert get_scheme("5class").classes(r[0] for r in truth_of(corpus).values()) == [
            "anger", "fear", "happiness", "neutral", "sadness"]


def test_an_emotion_no_scheme_knows_is_dropped_and_all_keeps_it():
    assert get_scheme("4class").label_of("contempt") is None
    assert get_scheme("all").label_of("contempt") == "contempt"
    assert get_scheme("4class").classes(["contempt", "boredom"]) == []


def test_a_label_scheme_instance_passes_through_get_scheme():
    custom = LabelScheme("two", {"anger": "negative", "sadness": "negative", "happiness": "positive"})
    assert get_scheme(custom) is custom
    assert custom.classes(["anger", "sadness", "happiness", "neutral"]) == ["negative", "positive"]


# --------------------------------------------------------------------------- real data

#: Published per-emotion counts of the shared copies (../shared/data/README.md).
PUBLISHED = {
    "emodb": {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79},
    "ravdess": {"neutral": 96, "calm": 192, "happiness": 192, "sadness": 192, "anger": 192, "fear": 192,
                "disgust": 192, "surprise": 192},
    "tess": {"anger": 399, "disgust": 400, "fear": 400, "happiness": 400, "neutral": 400, "surprise": 400,
             "sadness": 399},
    "savee": {"anger": 60, "disgust": 60, "fear": 60, "happiness": 60, "neutral": 120, "sadness": 60,
              "surprise": 60},
    "casia": {"anger": 200, "fear": 200, "happiness": 200, "neutral": 200, "sadness": 200, "surprise": 200},
}

#: What each scheme leaves of each shared corpus, counted by hand from PUBLISHED.
SCHEME_TOTALS = {
    "emodb": {"all": 535, "4class": 339, "4class-strict": 339, "ekman+neutral": 454, "5class": 408,
              "emodb6": 454, "casia6": 408},
    "ravdess": {"all": 1440, "4class": 672, "4class-strict": 672, "ekman+neutral": 1248, "5class": 864,
                "emodb6": 1056, "casia6": 1056},
    "tess": {"all": 2798, "4class": 1598, "4class-strict": 1598, "ekman+neutral": 2798, "5class": 1998,
             "emodb6": 2398, "casia6": 2398},
    "savee": {"all": 480, "4class": 300, "4class-strict": 300, "ekman+neutral": 480, "5class": 360,
              "emodb6": 420, "casia6": 420},
    "casia": {"all": 1200, "4class": 800, "4class-strict": 800, "ekman+neutral": 1200, "5class": 1000,
              "emodb6": 1000, "casia6": 1200},
}


@pytest.mark.data
@pytest.mark.parametrize("corpus", sorted(PUBLISHED))
def test_real_corpora_under_every_scheme(corpus):
    loaded = load_corpus(corpus, corpus_root(corpus))
    truth = truth_of(corpus)
    assert {u.corpus_label for u in loaded} == set(truth)
    for scheme in SCHEME_NAMES:
        column = 1 + SCHEME_NAMES.index(scheme)
        kept = loaded.with_scheme(scheme)
        assert len(kept) == SCHEME_TOTALS[corpus][scheme], scheme
        expected = Counter()
        for emotion, n in PUBLISHED[corpus].items():
            label = next(row[column] for row in truth.values() if row[0] == emotion)
            if label != "-":
                expected[label] += n
        assert Counter(u.emotion for u in kept) == expected, scheme
        # Every kept utterance's class is the one its own corpus label gives.
        assert all(u.emotion == truth[u.corpus_label][column] for u in kept), scheme
