"""serkit.splits: every kind's folds are disjoint, complete, deterministic and round-trip."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from serkit.corpora.base import Corpus, Utterance
from serkit.errors import ConfigError, SplitError
from serkit.splits import SPLITS, Fold, SplitPlan, make_split, split_kinds

from .conftest import corpus_root

EMOTIONS = ("anger", "happiness", "neutral", "sadness")

#: Kinds whose test side is chosen by speaker (or by a group of whole speakers).
SPEAKER_INDEPENDENT = {"speaker_kfold", "loso", "loso_session", "heldout_speakers", "loco"}
#: Kinds whose folds change with the seed on the fake corpus below.
RANDOM_KINDS = {"holdout", "kfold", "speaker_kfold", "heldout_speakers"}


def utt(uid, emotion, *, speaker=None, gender=None, corpus="fake", session=None, official=None):
    return Utterance(
        id=uid, path=Path("x.wav"), corpus=corpus, emotion=emotion, corpus_label=emotion,
        speaker=speaker, gender=gender, session=session, official_split=official,
    )


def fake_corpus(*, n_speakers=8, per_class=6, corpora=("fa", "fb")) -> list[Utterance]:
    """Speakers alternate female/male; two per session; corpora split the speakers in half;
    an official split by utterance index."""
    out = []
    for s in range(n_speakers):
        corpus = corpora[s * len(corpora) // n_speakers]
        spk = f"{corpus}-{s:02d}"
        for e in EMOTIONS:
            for i in range(per_class):
                official = ("train", "train", "train", "train", "evaluation", "test")[i % 6]
                out.append(utt(
                    f"{corpus}/{s:02d}_{e}_{i}", e, speaker=spk,
                    gender="female" if s % 2 == 0 else "male", corpus=corpus,
                    session=f"Ses{s // 2:02d}", official=official,
                ))
    return out


def speakers_of(utts, ids):
    by_id = {u.id: u for u in utts}
    return {by_id[i].speaker for i in ids}


def check_fold_invariants(utts, fold: Fold, *, speaker_independent: bool):
    train, val, test = set(fold.train), set(fold.val), set(fold.test)
    assert len(train) == len(fold.train) and len(val) == len(fold.val) and len(test) == len(fold.test)
    assert not train & val and not train & test and not val & test
    assert train | val | test == {u.id for u in utts}
    assert train and (test or fold.name == "final")
    for side in (fold.train, fold.val, fold.test):
        assert list(side) == sorted(side)
    if speaker_independent:
        assert not speakers_of(utts, test) & speakers_of(utts, train | val)


# --------------------------------------------------------------------------- every kind


def test_every_kind_is_covered_here():
    assert set(split_kinds()) == SPEAKER_INDEPENDENT | {"holdout", "kfold", "official", "final"}


def test_final_holds_out_whole_validation_speakers_and_tests_nothing():
    utts = fake_corpus()
    (fold,) = make_split(utts, "final", seed=0, val_fraction=0.25)
    assert not fold.test and fold.val
    assert not speakers_of(utts, set(fold.val)) & speakers_of(utts, set(fold.train))


@pytest.mark.parametrize("kind", split_kinds())
def test_folds_are_disjoint_and_complete(kind):
    utts = fake_corpus()
    plan = make_split(utts, kind, seed=0)
    assert plan.kind == kind and plan.seed == 0 and len(plan) >= 1
    assert len({f.name for f in plan}) == len(plan)
    for fold in plan:
        check_fold_invariants(utts, fold, speaker_independent=kind in SPEAKER_INDEPENDENT)
    if kind != "official":
        assert all(f.val for f in plan)


@pytest.mark.parametrize("kind", split_kinds())
def test_same_seed_same_plan_and_order_does_not_matter(kind):
    utts = fake_corpus()
    a = make_split(utts, kind, seed=3)
    b = make_split(list(reversed(utts)), kind, seed=3)
    assert a == b
    assert a.to_json() == b.to_json()


@pytest.mark.parametrize("kind", sorted(RANDOM_KINDS))
def test_different_seed_different_plan(kind):
    utts = fake_corpus()
    plans = {make_split(utts, kind, seed=s).to_json() for s in range(4)}
    assert len(plans) > 1


@pytest.mark.parametrize("kind", split_kinds())
def test_json_round_trip(kind, tmp_path):
    utts = fake_corpus()
    plan = make_split(utts, kind, seed=1)
    path = plan.save(tmp_path / "sub" / "folds.json")
    assert path.is_file() and not list(path.parent.glob(".*tmp"))
    loaded = SplitPlan.load(path, corpus=utts)
    assert loaded == plan
    assert SplitPlan.from_json(plan.to_json()) == plan
    data = json.loads(path.read_text())
    assert data["kind"] == kind and data["seed"] == 1


@pytest.mark.parametrize("kind", sorted(SPEAKER_INDEPENDENT))
def test_validation_is_whole_training_speakers(kind):
    utts = fake_corpus()
    plan = make_split(utts, kind, seed=0, val_fraction=0.2)
    assert plan.params["val_by"] == "speaker"
    for fold in plan:
        val_spk = speakers_of(utts, fold.val)
        assert val_spk and not val_spk & speakers_of(utts, fold.train)
        assert not val_spk & speakers_of(utts, fold.test)


@pytest.mark.parametrize("kind", ["holdout", "kfold", "speaker_kfold", "loso"])
def test_val_fraction_zero_means_no_validation(kind):
    plan = make_split(fake_corpus(), kind, seed=0, val_fraction=0)
    assert all(f.val == () for f in plan)
    assert plan.params["val_by"] == "none"


# --------------------------------------------------------------------------- per kind


def test_holdout_is_stratified_per_emotion():
    # Unequal classes so proportions are not trivially equal.
    utts = [utt(f"{e}{i:03d}", e) for e, n in zip(EMOTIONS, (200, 100, 60, 40)) for i in range(n)]
    plan = make_split(utts, "holdout", seed=0, test_fraction=0.1, val_fraction=0.1)
    (fold,) = plan.folds
    total = Counter(u.emotion for u in utts)
    emotion = {u.id: u.emotion for u in utts}
    test = Counter(emotion[i] for i in fold.test)
    val = Counter(emotion[i] for i in fold.val)
    for e, n in total.items():
        assert test[e] == pytest.approx(0.1 * n, abs=1)
        assert val[e] == pytest.approx(0.1 * (n - test[e]), abs=1)
    assert len(fold.test) == pytest.approx(0.1 * len(utts), abs=len(EMOTIONS))


def test_holdout_90_10_without_validation():
    utts = fake_corpus()
    plan = make_split(utts, "holdout", seed=0, test_fraction=0.1, val_fraction=0)
    assert len(plan.folds[0].test) == pytest.approx(0.1 * len(utts), abs=len(EMOTIONS))


def test_kfold_tests_each_utterance_once_and_stratifies():
    utts = fake_corpus()
    plan = make_split(utts, "kfold", seed=0, n_folds=4)
    tested = Counter(i for f in plan for i in f.test)
    assert set(tested) == {u.id for u in utts} and set(tested.values()) == {1}
    emotion = {u.id: u.emotion for u in utts}
    for f in plan:
        counts = Counter(emotion[i] for i in f.test)
        assert max(counts.values()) - min(counts.values()) <= 1


def test_speaker_kfold_balances_gender_and_tests_each_speaker_once():
    utts = fake_corpus(n_speakers=10)
    plan = make_split(utts, "speaker_kfold", seed=0, n_folds=5)
    gender = {u.speaker: u.gender for u in utts}
    tested = Counter(s for f in plan for s in speakers_of(utts, f.test))
    assert set(tested.values()) == {1} and len(tested) == 10
    for f in plan:
        assert sorted(gender[s] for s in speakers_of(utts, f.test)) == ["female", "male"]


def test_loso_has_one_fold_per_speaker():
    utts = fake_corpus()
    plan = make_split(utts, "loso", seed=0)
    assert [f.name for f in plan] == sorted({u.speaker for u in utts})
    for f in plan:
        assert speakers_of(utts, f.test) == {f.name}


def test_loso_session_and_loco_test_one_group_each():
    utts = fake_corpus()
    by_id = {u.id: u for u in utts}
    sessions = make_split(utts, "loso_session", seed=0)
    assert [f.name for f in sessions] == sorted({u.session for u in utts})
    for f in sessions:
        assert {by_id[i].session for i in f.test} == {f.name}
    loco = make_split(utts, "loco", seed=0)
    assert [f.name for f in loco] == ["fa", "fb"]
    for f in loco:
        assert {by_id[i].corpus for i in f.test} == {f.name}
        assert {by_id[i].corpus for i in f.train + f.val} == {"fa", "fb"} - {f.name}


def test_loco_can_leave_out_only_the_named_corpora_with_utterance_validation():
    utts = fake_corpus()
    by_id = {u.id: u for u in utts}
    plan = make_split(utts, "loco", seed=0, test_corpora=["fb"], val_by="utterance")
    assert [f.name for f in plan] == ["fb"]
    fold = plan.folds[0]
    assert {by_id[i].corpus for i in fold.test} == {"fb"}
    assert {by_id[i].corpus for i in fold.train + fold.val} == {"fa"}
    assert len(fold.test) == sum(u.corpus == "fb" for u in utts)
    assert plan.params["val_by"] == "utterance" and plan.params["test_corpora"] == ["fb"]
    # Validation by utterance shares speakers with training; by speaker it does not.
    assert speakers_of(utts, fold.val) <= speakers_of(utts, fold.train)
    by_speaker = make_split(utts, "loco", seed=0, test_corpora=["fb"]).folds[0]
    assert not speakers_of(utts, by_speaker.val) & speakers_of(utts, by_speaker.train)


@pytest.mark.parametrize("params, match", [
    ({"test_corpora": ["emodb"]}, "^loco: test_corpora must name corpora of the experiment \\(fa, fb\\), not "
                                  "\\['emodb'\\]; add them to data.corpora or leave test_corpora out$"),
    ({"test_corpora": ["fa", "emodb"]}, "of the experiment \\(fa, fb\\), not \\['emodb'\\];"),
    ({"test_corpora": []}, "loco: test_corpora must name corpora"),
    ({"val_by": "session"}, "loco: val_by must be 'speaker' or 'utterance', not 'session'"),
])
def test_loco_refuses_impossible_test_corpora(params, match):
    with pytest.raises(SplitError, match=match):
        make_split(fake_corpus(), "loco", seed=0, **params)


def test_heldout_speakers_pairs_one_female_one_male():
    utts = fake_corpus(n_speakers=10)
    gender = {u.speaker: u.gender for u in utts}
    plan = make_split(utts, "heldout_speakers", seed=0)
    assert len(plan) == 5
    for f in plan:
        assert sorted(gender[s] for s in speakers_of(utts, f.test)) == ["female", "male"]
    assert len(make_split(utts, "heldout_speakers", seed=0, n_folds=2)) == 2


def test_heldout_speakers_explicit_groups():
    utts = fake_corpus()
    groups = [["fa-00", "fa-01"], ["fb-06", "fb-07"]]
    plan = make_split(utts, "heldout_speakers", seed=0, speakers=groups)
    assert [speakers_of(utts, f.test) for f in plan] == [set(g) for g in groups]
    assert plan.params["speakers"] == groups


def test_official_uses_released_split():
    utts = fake_corpus()
    (fold,) = make_split(utts, "official", seed=0).folds
    side = {"train": fold.train, "evaluation": fold.val, "test": fold.test}
    for u in utts:
        assert u.id in side[u.official_split]


def test_single_training_speaker_falls_back_to_utterance_validation():
    # TESS: two speakers, so each speaker_kfold fold trains on one speaker.
    utts = [utt(f"{s}_{e}_{i}", e, speaker=s, gender="female", corpus="tess")
            for s in ("tess-OAF", "tess-YAF") for e in EMOTIONS for i in range(10)]
    plan = make_split(utts, "speaker_kfold", seed=0, n_folds=2)
    assert sorted(plan.params["val_fallback_folds"]) == ["0", "1"]
    for f in plan:
        check_fold_invariants(utts, f, speaker_independent=True)
        assert f.val and speakers_of(utts, f.val) == speakers_of(utts, f.train)
        assert any("not speaker-independent" in n for n in f.notes)


def test_fold_select_and_lookup():
    utts = fake_corpus()
    plan = make_split(utts, "loso", seed=0)
    fold = plan.fold("fa-00")
    assert [u.id for u in fold.select(utts, "test")] == list(fold.test)
    with pytest.raises(SplitError, match="no fold 'nobody'"):
        plan.fold("nobody")


# --------------------------------------------------------------------------- errors


def error_of(utts, kind, **kw) -> str:
    with pytest.raises(SplitError) as info:
        make_split(utts, kind, seed=0, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_more_folds_than_speakers():
    utts = [utt(f"{s}_{e}_{i}", e, speaker=s, gender="female", corpus="tess")
            for s in ("tess-OAF", "tess-YAF") for e in EMOTIONS for i in range(5)]
    msg = error_of(utts, "speaker_kfold", n_folds=5)
    assert "needs at least 5 speakers" in msg and "tess has 2" in msg and "n_folds ≤ 2" in msg


@pytest.mark.parametrize("n", [1, 0, -3])
def test_too_few_folds(n):
    assert "n_folds ≥ 2" in error_of(fake_corpus(), "kfold", n_folds=n)


@pytest.mark.parametrize("kw", [{"test_fraction": 0.0}, {"test_fraction": 1.0},
                                {"test_fraction": -0.1}, {"val_fraction": 1.0}, {"val_fraction": 1.5}])
def test_fractions_out_of_range(kw):
    assert "must be in" in error_of(fake_corpus(), "holdout", **kw)


def test_class_too_small_to_stratify():
    utts = fake_corpus() + [utt("lonely", "disgust", speaker="fa-00", gender="female", corpus="fa")]
    assert "'disgust' has 1 utterance" in error_of(utts, "holdout")
    assert "'disgust' has 1 utterance" in error_of(utts, "kfold", n_folds=3)


def test_loso_session_without_sessions():
    utts = [utt(f"u{i}", EMOTIONS[i % 4], speaker=f"s{i % 3}") for i in range(24)]
    assert "needs Utterance.session" in error_of(utts, "loso_session")


def test_loco_with_one_corpus():
    assert "at least 2 corpora" in error_of(fake_corpus(corpora=("only",)), "loco")


def test_heldout_speakers_without_both_genders():
    utts = [utt(f"{s}_{e}_{i}", e, speaker=s, gender="female", corpus="tess")
            for s in ("tess-OAF", "tess-YAF") for e in EMOTIONS for i in range(5)]
    msg = error_of(utts, "heldout_speakers")
    assert "one female and one male" in msg and "0 male" in msg
    assert "needs 6 of each" in error_of(fake_corpus(n_speakers=10), "heldout_speakers", n_folds=6)


def test_heldout_speakers_unknown_speaker():
    assert "unknown speaker(s) 'fa-99'" in error_of(fake_corpus(), "heldout_speakers",
                                                   speakers=[["fa-00", "fa-99"]])


def test_empty_corpus():
    assert "no utterances" in error_of([], "kfold")


def test_official_without_released_split():
    utts = [utt(f"u{i}", EMOTIONS[i % 4], speaker="s") for i in range(8)]
    assert "has no released split" in error_of(utts, "official")


def test_missing_speakers_for_speaker_kinds():
    utts = [utt(f"u{i}", EMOTIONS[i % 4]) for i in range(20)]
    assert "needs a speaker" in error_of(utts, "loso")


def test_option_the_kind_does_not_take():
    with pytest.raises(ConfigError, match="split kind 'loso' has no parameter 'n_folds'; valid parameters: val_fraction"):
        make_split(fake_corpus(), "loso", seed=0, n_folds=3)


def test_duplicate_ids():
    utts = fake_corpus()
    assert "unique" in error_of(utts + utts[:1], "kfold")


def test_unknown_kind_suggests_closest():
    with pytest.raises(ConfigError, match="Did you mean 'loso'"):
        make_split(fake_corpus(), "losso", seed=0)
    assert "speaker_kfold" in SPLITS


def test_check_names_unknown_ids(tmp_path):
    utts = fake_corpus()
    path = make_split(utts, "kfold", seed=0).save(tmp_path / "folds.json")
    fewer = Corpus("fake", tmp_path, utts[1:])
    with pytest.raises(SplitError, match=rf"1 utterance id\(s\) not in corpus 'fake' \('{utts[0].id}'\)"):
        SplitPlan.load(path, corpus=fewer)


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": "other"}',
                                  '{"format": "serkit-split", "version": 1, "kind": "kfold"}'])
def test_load_rejects_what_is_not_a_plan(tmp_path, text):
    path = tmp_path / "folds.json"
    path.write_text(text)
    with pytest.raises(SplitError, match="split plan"):
        SplitPlan.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(SplitError, match="cannot read split plan"):
        SplitPlan.load(tmp_path / "nope.json")


def test_load_rejects_overlapping_sides():
    data = json.loads(make_split(fake_corpus(), "holdout", seed=0).to_json())
    data["folds"][0]["test"].append(data["folds"][0]["train"][0])
    with pytest.raises(SplitError, match="both train and test"):
        SplitPlan.from_json(json.dumps(data))


# --------------------------------------------------------------------------- real EmoDB

#: EmoDB speaker genders, from the corpus documentation (erklaerung.txt).
EMODB_GENDER = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
                "12": "male", "13": "female", "14": "female", "15": "male", "16": "female"}
EMODB_EMOTION = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
                 "F": "happiness", "T": "sadness", "N": "neutral"}


def emodb_utterances(root: Path) -> list[Utterance]:
    try:
        from serkit.corpora import load_corpus
    except ImportError:
        load_corpus = None
    if load_corpus is not None:
        return list(load_corpus("emodb", root))
    files = sorted(p for p in root.rglob("*") if p.suffix in (".wav", ".flac"))
    return [utt(p.stem, EMODB_EMOTION[p.stem[5]], speaker=f"emodb-{p.stem[:2]}",
                gender=EMODB_GENDER[p.stem[:2]], corpus="emodb") for p in files]


@pytest.mark.data
def test_real_emodb_protocols(tmp_path):
    utts = emodb_utterances(corpus_root("emodb"))
    assert len(utts) == 535
    gender = {u.speaker: u.gender for u in utts}
    assert len(gender) == 10

    wavelet = make_split(utts, "heldout_speakers", seed=0)
    assert len(wavelet) == 5
    assert sorted(s for f in wavelet for s in speakers_of(utts, f.test)) == sorted(gender)
    for f in wavelet:
        check_fold_invariants(utts, f, speaker_independent=True)
        assert sorted(gender[s] for s in speakers_of(utts, f.test)) == ["female", "male"]

    si = make_split(utts, "speaker_kfold", seed=0, n_folds=5)
    for f in si:
        check_fold_invariants(utts, f, speaker_independent=True)
        assert sorted(gender[s] for s in speakers_of(utts, f.test)) == ["female", "male"]
    assert "needs at least 11 speakers" in error_of(utts, "speaker_kfold", n_folds=11)

    cnn = make_split(utts, "holdout", seed=0, test_fraction=0.1, val_fraction=0.1)
    (fold,) = cnn.folds
    check_fold_invariants(utts, fold, speaker_independent=False)
    emotion = {u.id: u.emotion for u in utts}
    total = Counter(emotion.values())
    test = Counter(emotion[i] for i in fold.test)
    for e, n in total.items():
        assert test[e] == pytest.approx(0.1 * n, abs=1)

    assert SplitPlan.load(si.save(tmp_path / "folds.json"), corpus=utts) == si
