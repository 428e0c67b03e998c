"""Label schemes: named, applied outside the loaders, merging where the scheme says."""

from __future__ import annotations

from pathlib import Path

import pytest

from serkit.corpora.base import Corpus, Utterance
from serkit.errors import ConfigError
from serkit.labels import EMOTIONS, SCHEMES, get_scheme


def corpus(*emotions: str) -> Corpus:
    utts = [Utterance(id=str(i), path=Path(f"{i}.wav"), corpus="x", emotion=e, corpus_label=e)
            for i, e in enumerate(emotions)]
    return Corpus("x", Path("."), utts)


def test_4class_merges_excitement_into_happiness_and_drops_the_rest():
    c = corpus("anger", "excitement", "happiness", "frustration", "neutral", "sadness", "surprise").with_scheme("4class")
    assert [u.emotion for u in c] == ["anger", "happiness", "happiness", "neutral", "sadness"]
    assert [u.corpus_label for u in c] == ["anger", "excitement", "happiness", "neutral", "sadness"]


def test_all_keeps_every_emotion_and_classes_are_sorted():
    scheme = get_scheme("all")
    assert scheme.classes(["sadness", "anger", "anger"]) == ["anger", "sadness"]
    assert len(corpus(*EMOTIONS).with_scheme(scheme)) == len(EMOTIONS)


def test_every_scheme_maps_to_known_emotions_only():
    for scheme in map(SCHEMES.get, SCHEMES):
        if scheme.mapping is not None:
            assert set(scheme.mapping) <= set(EMOTIONS)


def test_unknown_scheme_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown label scheme '5clas'.*5class"):
        get_scheme("5clas")
