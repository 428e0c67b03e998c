"""Properties of every split protocol over random speaker/label/corpus arrays (hypothesis),
and the guards and counts the protocols promise (exact numbers, not just "some").

For every speaker-independent kind: the test sides partition the data (where the kind
tests everyone), no speaker (or corpus, for loco) is on two sides, validation comes from
the training side only, whole speakers where there are two or more. For the random kinds:
every class with data is on the test side (holdout, each kfold fold) and the counts follow
the documented rounding.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serkit.corpora.base import Utterance
from serkit.errors import SplitError
from serkit.splits import SPLITS, _round_share, _total_shares, make_split

EMOTIONS = ("anger", "happiness", "neutral", "sadness", "fear")
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def utt(uid, emotion, *, speaker=None, gender=None, corpus="c0", session=None):
    return Utterance(id=uid, path=Path("x.wav"), corpus=corpus, emotion=emotion, corpus_label=emotion,
                     speaker=speaker, gender=gender, session=session)


@st.composite
def corpora(draw, *, min_speakers=2, max_speakers=9, min_corpora=1):
    """Utterances of 2..9 speakers; each speaker has one gender (or none), one corpus and
    one session; labels drawn per utterance from 2..5 emotions."""
    n_speakers = draw(st.integers(min_speakers, max_speakers))
    n_corpora = draw(st.integers(min_corpora, max(min_corpora, min(3, n_speakers))))
    emotions = EMOTIONS[:draw(st.integers(2, 5))]
    out = []
    for s in range(n_speakers):
        corpus = f"c{s % n_corpora}"
        speaker = f"{corpus}-s{s}"
        gender = draw(st.sampled_from(["female", "male", None]))
        session = f"ses{s // 2}"
        labels = draw(st.lists(st.sampled_from(emotions), min_size=1, max_size=8))
        out += [utt(f"{speaker}/{i}", e, speaker=speaker, gender=gender, corpus=corpus, session=session)
                for i, e in enumerate(labels)]
    return out


def by_id(utts):
    return {u.id: u for u in utts}


def check_partition_of_each_fold(utts, fold):
    sides = [set(fold.train), set(fold.val), set(fold.test)]
    assert sum(map(len, sides)) == len(utts)
    assert set.union(*sides) == {u.id for u in utts}


def check_speaker_independent(utts, plan, key=lambda u: u.speaker):
    index = by_id(utts)
    for fold in plan:
        check_partition_of_each_fold(utts, fold)
        test = {key(index[i]) for i in fold.test}
        train = {key(index[i]) for i in fold.train}
        val = {key(index[i]) for i in fold.val}
        assert not test & (train | val), f"fold {fold.name}: {test & (train | val)} on both sides"
        assert fold.train, f"fold {fold.name} trains on nothing"
        fallback = any(n.startswith("validation is not speaker-independent") for n in fold.notes)
        speakers_train_side = {index[i].speaker for i in fold.train + fold.val}
        if len(speakers_train_side) >= 2:
            # Whole training speakers held out for validation, never one on both sides.
            assert not fallback
            v = {index[i].speaker for i in fold.val}
            t = {index[i].speaker for i in fold.train}
            assert v and t and not v & t
        else:
            assert fallback or not fold.val


def check_test_sides_partition(utts, plan):
    tested = Counter(i for fold in plan for i in fold.test)
    assert set(tested) == {u.id for u in utts}
    assert set(tested.values()) == {1}


@PROPERTY
@given(corpora())
def test_loso_tests_each_speaker_once_and_alone(utts):
    plan = make_split(utts, "loso", seed=0)
    speakers = sorted({u.speaker for u in utts})
    assert [f.name for f in plan] == [s.replace("/", "_") for s in speakers]
    check_speaker_independent(utts, plan)
    check_test_sides_partition(utts, plan)
    index = by_id(utts)
    for fold, speaker in zip(plan, speakers):
        assert {index[i].speaker for i in fold.test} == {speaker}


@PROPERTY
@given(corpora(), st.integers(2, 5), st.integers(0, 2**16))
def test_speaker_kfold_partitions_speakers(utts, n_folds, seed):
    n_speakers = len({u.speaker for u in utts})
    if n_folds > n_speakers:
        with pytest.raises(SplitError, match=f"needs at least {n_folds} speakers"):
            make_split(utts, "speaker_kfold", seed=seed, n_folds=n_folds)
        return
    plan = make_split(utts, "speaker_kfold", seed=seed, n_folds=n_folds)
    assert len(plan) == n_folds
    check_speaker_independent(utts, plan)
    check_test_sides_partition(utts, plan)
    sizes = [len(g) for g in plan.params["test_speakers"]]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n_speakers
    assert sorted(s for g in plan.params["test_speakers"] for s in g) == sorted({u.speaker for u in utts})


@PROPERTY
@given(corpora(min_corpora=2, min_speakers=2))
def test_loco_keeps_each_corpus_on_one_side(utts):
    plan = make_split(utts, "loco", seed=0)
    assert [f.name for f in plan] == sorted({u.corpus for u in utts})
    check_speaker_independent(utts, plan, key=lambda u: u.corpus)
    check_test_sides_partition(utts, plan)


@PROPERTY
@given(corpora(min_speakers=3))
def test_loso_session_keeps_each_session_and_speaker_on_one_side(utts):
    plan = make_split(utts, "loso_session", seed=0)
    assert [f.name for f in plan] == sorted({u.session for u in utts})
    check_speaker_independent(utts, plan, key=lambda u: u.session)
    check_speaker_independent(utts, plan)
    check_test_sides_partition(utts, plan)


@PROPERTY
@given(corpora(min_speakers=2))
def test_heldout_speakers_tests_one_female_and_one_male(utts):
    genders = {u.speaker: u.gender for u in utts}
    pairs = min(sum(g == "female" for g in genders.values()), sum(g == "male" for g in genders.values()))
    if pairs == 0:
        with pytest.raises(SplitError, match="needs 1 of each"):
            make_split(utts, "heldout_speakers", seed=0)
        return
    if len(genders) == 2:
        with pytest.raises(SplitError, match="holds every speaker, leaving none to train on"):
            make_split(utts, "heldout_speakers", seed=0)
        return
    plan = make_split(utts, "heldout_speakers", seed=0)
    assert len(plan) == pairs
    check_speaker_independent(utts, plan)
    index = by_id(utts)
    for fold in plan:
        tested = {index[i].speaker for i in fold.test}
        assert sorted(genders[s] for s in tested) == ["female", "male"]
    # No speaker is tested twice.
    tested = [s for g in plan.params["test_speakers"] for s in g]
    assert len(tested) == len(set(tested)) == 2 * pairs


@PROPERTY
@given(corpora(min_speakers=2), st.sampled_from([0.1, 0.25, 0.5]))
def test_final_validation_is_whole_speakers_rounded_half_up(utts, val_fraction):
    (fold,) = make_split(utts, "final", seed=0, val_fraction=val_fraction)
    check_partition_of_each_fold(utts, fold)
    speakers = sorted({u.speaker for u in utts})
    index = by_id(utts)
    val = {index[i].speaker for i in fold.val}
    assert not fold.test and not val & {index[i].speaker for i in fold.train}
    assert len(val) == min(max(int(val_fraction * len(speakers) + 0.5), 1), len(speakers) - 1)


@PROPERTY
@given(st.lists(st.sampled_from(EMOTIONS[:3]), min_size=12, max_size=60), st.sampled_from([0.1, 0.2, 0.3]),
       st.sampled_from(["class", "total"]))
def test_holdout_puts_every_class_with_data_on_both_sides(labels, test_fraction, rounding):
    counts = Counter(labels)
    utts = [utt(f"u{i:03d}", e) for i, e in enumerate(labels)]
    if min(counts.values()) < 2:
        with pytest.raises(SplitError, match="too few to stratify a test set"):
            make_split(utts, "holdout", seed=0, test_fraction=test_fraction, rounding=rounding)
        return
    (fold,) = make_split(utts, "holdout", seed=0, test_fraction=test_fraction, val_fraction=0,
                         rounding=rounding)
    check_partition_of_each_fold(utts, fold)
    index = by_id(utts)
    test = Counter(index[i].emotion for i in fold.test)
    train = Counter(index[i].emotion for i in fold.train)
    assert set(test) == set(train) == set(counts)
    if rounding == "class":
        assert all(test[c] == min(max(int(test_fraction * n + 0.5), 1), n - 1) for c, n in counts.items())
    else:
        # ceil(fraction * N) in all, shared in proportion; a class whose share rounds to 0
        # still gives one clip (a test side holds every class), which can add to the total.
        target = math.ceil(test_fraction * len(utts) - 1e-9)
        assert all(1 <= test[c] <= n - 1 for c, n in counts.items())
        if all(math.floor(target * n / len(utts)) >= 1 for n in counts.values()):
            assert sum(test.values()) == target
        else:
            assert target <= sum(test.values()) <= target + len(counts)


@PROPERTY
@given(st.lists(st.sampled_from(EMOTIONS), min_size=10, max_size=60), st.integers(2, 4))
def test_kfold_tests_each_clip_once_with_every_class_in_every_fold(labels, n_folds):
    counts = Counter(labels)
    utts = [utt(f"u{i:03d}", e) for i, e in enumerate(labels)]
    if min(counts.values()) < n_folds:
        with pytest.raises(SplitError, match=f"fewer than the {n_folds} folds"):
            make_split(utts, "kfold", seed=0, n_folds=n_folds)
        return
    plan = make_split(utts, "kfold", seed=0, n_folds=n_folds, val_fraction=0.2)
    check_test_sides_partition(utts, plan)
    index = by_id(utts)
    for fold in plan:
        check_partition_of_each_fold(utts, fold)
        assert {index[i].emotion for i in fold.test} == set(counts)
        # Validation is drawn from the training side and stratified: classes with 2+ clips there.
        train_side = Counter(index[i].emotion for i in fold.train + fold.val)
        val = Counter(index[i].emotion for i in fold.val)
        for c, n in train_side.items():
            assert val[c] == (min(max(int(0.2 * n + 0.5), 1), n - 1) if n >= 2 else 0)


# --------------------------------------------------------------------------- guards


def test_a_speaker_in_two_sessions_is_refused_by_loso_session():
    utts = [utt("a1", "anger", speaker="s1", session="A"), utt("a2", "sadness", speaker="s1", session="B"),
            utt("b1", "anger", speaker="s2", session="B")]
    with pytest.raises(SplitError, match=r"1 speaker\(s\) appear in several sessions \(e.g. 's1'\)"):
        make_split(utts, "loso_session", seed=0)


def test_loso_session_without_a_session_on_one_utterance_is_refused():
    utts = [utt("a1", "anger", speaker="s1", session="A"), utt("b1", "anger", speaker="s2")]
    with pytest.raises(SplitError, match=r"1 of 2 utterances have none \(e.g. 'b1'\)"):
        make_split(utts, "loso_session", seed=0)


def test_loso_session_with_one_session_is_refused():
    utts = [utt("a1", "anger", speaker="s1", session="A"), utt("a2", "anger", speaker="s2", session="A")]
    with pytest.raises(SplitError, match="at least 2 sessions; the data has only 'A'"):
        make_split(utts, "loso_session", seed=0)


@pytest.mark.parametrize("kind", ["speaker_kfold", "heldout_speakers", "loso", "final"])
def test_a_speaker_with_two_genders_is_refused(kind):
    utts = [utt(f"{s}{i}", e, speaker=s, gender=g) for s, g in (("s1", "female"), ("s2", "male"), ("s3", "male"))
            for i, e in enumerate(("anger", "sadness"))]
    utts.append(utt("s1x", "anger", speaker="s1", gender="male"))
    with pytest.raises(SplitError, match=r"speaker 's1' has utterances labelled with several genders "
                                         r"\(\['female', 'male'\]\)"):
        make_split(utts, kind, seed=0, **({"n_folds": 2} if kind == "speaker_kfold" else {}))


def test_a_speaker_with_one_gender_and_some_unknown_keeps_it():
    utts = [utt("f1", "anger", speaker="f", gender="female"), utt("f2", "sadness", speaker="f"),
            utt("m1", "anger", speaker="m", gender="male"), utt("m2", "sadness", speaker="m", gender="male"),
            utt("u1", "anger", speaker="u")]
    plan = make_split(utts, "heldout_speakers", seed=0, val_fraction=0)
    assert plan.params["test_speakers"] == [["f", "m"]]


def test_loso_with_one_speaker_is_refused():
    with pytest.raises(SplitError, match="loso needs at least 2 speakers; c0 has 1"):
        make_split([utt("a", "anger", speaker="s"), utt("b", "sadness", speaker="s")], "loso", seed=0)


def test_heldout_speakers_refuses_the_automatic_pair_of_a_two_speaker_corpus():
    # One woman and one man: the only fold would test both and train on nobody (this
    # raised an IndexError before).
    utts = [utt("f", "anger", speaker="f", gender="female"), utt("m", "anger", speaker="m", gender="male")]
    with pytest.raises(SplitError, match=r"^heldout_speakers group \['f', 'm'\] holds every speaker, leaving none to train on$"):
        make_split(utts, "heldout_speakers", seed=0)


def test_heldout_speakers_refuses_a_group_of_every_speaker():
    utts = [utt("a", "anger", speaker="s1"), utt("b", "anger", speaker="s2")]
    with pytest.raises(SplitError, match="holds every speaker"):
        make_split(utts, "heldout_speakers", seed=0, speakers=[["s1", "s2"]])


def test_heldout_speakers_refuses_speakers_and_n_folds_together():
    utts = [utt("a", "anger", speaker="s1"), utt("b", "anger", speaker="s2")]
    with pytest.raises(SplitError, match="either speakers .* or n_folds, not both"):
        make_split(utts, "heldout_speakers", seed=0, speakers=[["s1"]], n_folds=2)


def test_heldout_speakers_with_too_many_folds_says_how_many_of_each():
    utts = [utt(f"{s}", "anger", speaker=s, gender=g) for s, g in (("f1", "female"), ("m1", "male"), ("m2", "male"))]
    with pytest.raises(SplitError, match="with 2 fold.* needs 2 of each; c0 has 1 female and 2 male"):
        make_split(utts, "heldout_speakers", seed=0, n_folds=2)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "0"])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(SplitError, match="seed must be an integer in"):
        make_split([utt("a", "anger"), utt("b", "anger")], "holdout", seed=seed)


def test_the_largest_seed_is_accepted():
    utts = [utt(f"u{i}", e) for i, e in enumerate(["anger", "sadness"] * 5)]
    assert make_split(utts, "holdout", seed=2**32 - 1, val_fraction=0).seed == 2**32 - 1


@pytest.mark.parametrize("n", [1.0, True, "3"])
def test_n_folds_must_be_an_integer(n):
    with pytest.raises(SplitError, match="n_folds must be an integer"):
        make_split([utt("a", "anger", speaker="s")], "kfold", seed=0, n_folds=n)


def test_n_folds_two_is_accepted_and_one_refused():
    utts = [utt(f"u{i}", e) for i, e in enumerate(["anger", "sadness"] * 4)]
    assert len(make_split(utts, "kfold", seed=0, n_folds=2)) == 2
    with pytest.raises(SplitError, match="kfold needs n_folds ≥ 2, not 1"):
        make_split(utts, "kfold", seed=0, n_folds=1)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "0.1", True])
def test_test_fraction_bounds(fraction):
    with pytest.raises(SplitError, match="test_fraction must be"):
        make_split([utt("a", "anger")], "holdout", seed=0, test_fraction=fraction)


def test_val_fraction_zero_is_allowed_and_one_is_not():
    utts = [utt(f"u{i}", e) for i, e in enumerate(["anger", "sadness"] * 4)]
    assert make_split(utts, "holdout", seed=0, val_fraction=0).folds[0].val == ()
    with pytest.raises(SplitError, match=r"val_fraction must be in \[0, 1\) \(0 means no validation\)"):
        make_split(utts, "holdout", seed=0, val_fraction=1)


def test_unknown_rounding_is_refused():
    with pytest.raises(SplitError, match="rounding must be one of 'class', 'total', not 'up'"):
        make_split([utt("a", "anger")], "holdout", seed=0, rounding="up")


EXAMPLE = re.escape('e.g. [["emodb-03", "emodb-08"], ["emodb-10", "emodb-09"]]')


@pytest.mark.parametrize(("groups", "message"), [
    ("s1", f"speakers must be a non-empty list of speaker groups, {EXAMPLE}; not 's1'"),
    ([], f"speakers must be a non-empty list of speaker groups, {EXAMPLE}; not \\[\\]"),
    (5, f"speakers must be a non-empty list of speaker groups, {EXAMPLE}; not 5"),
    ([["s1", "s1"]], re.escape("speaker group ['s1', 's1'] names a speaker twice")),
    ([[]], f"speakers must be a list of speaker groups \\(lists of speaker names\\), {EXAMPLE}; got the group \\[\\]"),
    ([[1]], ".*got the group \\[1\\]"),
    ([["s1", 2]], ".*got the group \\['s1', 2\\]"),
    (["s1s2"], ".*got the group 's1s2'"),
    ([5], ".*got the group 5"),
])
def test_bad_speaker_groups_are_refused(groups, message):
    with pytest.raises(SplitError, match=f"^{message}$"):
        make_split([utt("a", "anger", speaker="s1")], "heldout_speakers", seed=0, speakers=groups)


def test_a_wrong_fold_side_or_name_says_what_there_is():
    plan = make_split([utt(f"u{i}", e, speaker=f"s{i % 2}") for i, e in enumerate(["anger", "sadness"] * 2)],
                      "loso", seed=0, val_fraction=0)
    with pytest.raises(SplitError, match="^fold side must be one of train, val, test, not 'dev'$"):
        plan.folds[0].ids("dev")
    with pytest.raises(SplitError, match="^split plan has no fold 'x'; its folds are: s0, s1$"):
        plan.fold("x")


# --------------------------------------------------------------------------- official


def official_corpus(sides):
    return [Utterance(id=f"u{i}", path=Path("x.wav"), corpus="esd", emotion="anger", corpus_label="a",
                      official_split=side) for i, side in enumerate(sides)]


def test_official_uses_the_released_sides_and_says_whether_it_validates():
    plan = make_split(official_corpus(["train", "evaluation", "test", "train"]), "official", seed=0)
    (fold,) = plan
    assert (fold.name, fold.train, fold.val, fold.test) == ("official", ("u0", "u3"), ("u1",), ("u2",))
    assert plan.params["val_by"] == "official"
    plan = make_split(official_corpus(["train", "test"]), "official", seed=0)
    assert plan.params["val_by"] == "none" and plan.folds[0].val == ()


@pytest.mark.parametrize(("sides", "message"), [
    (["train", None, None], "official split needs Utterance.official_split, but 2 of 3 utterances have none "
                            "\\(e.g. 'u1'\\); esd has no released split: use another kind"),
    (["train", "dev", "zzz", "test"], "official_split must be one of train, evaluation, test, not 'dev'"),
    (["train", "evaluation"], "official split has no test utterances; is the corpus complete\\?"),
    (["test", "evaluation"], "official split has no train utterances; is the corpus complete\\?"),
])
def test_official_refuses_an_incomplete_release(sides, message):
    with pytest.raises(SplitError, match=f"^{message}$"):
        make_split(official_corpus(sides), "official", seed=0)


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize(("fraction", "n", "expected"), [(0.5, 1, 1), (0.5, 3, 2), (0.25, 2, 1), (0.1, 4, 0),
                                                          (0.1, 5, 1), (0.2, 535, 107)])
def test_round_share_rounds_half_up(fraction, n, expected):
    assert _round_share(fraction, n) == expected


def test_total_shares_match_sklearn_on_emodb_counts():
    # EmoDB's classes at 0.2: ceil(0.2 * 535) = 107 in all, as the SpeechNet paper's test side.
    sizes = {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79}
    shares = _total_shares(sizes, 0.2, np.random.default_rng(0))
    assert sum(shares.values()) == 107
    for c, n in sizes.items():
        assert math.floor(107 * n / 535) <= shares[c] <= math.floor(107 * n / 535) + 1


def test_total_shares_give_leftovers_to_the_largest_remainders():
    # 0.5 of (3, 3, 2) = ceil(4) = 4: exact shares 1.5, 1.5, 1.0 -> the two halves go up... one of them.
    shares = _total_shares({"a": 3, "b": 3, "c": 2}, 0.5, np.random.default_rng(0))
    assert sum(shares.values()) == 4 and shares["c"] == 1 and sorted([shares["a"], shares["b"]]) == [1, 2]
    # An exact product takes no leftovers: 0.5 of (4, 2) = 2 and 1.
    assert _total_shares({"a": 4, "b": 2}, 0.5, np.random.default_rng(0)) == {"a": 2, "b": 1}


def test_speaker_validation_takes_the_rounded_share_of_speakers():
    utts = [utt(f"s{s}_{i}", e, speaker=f"s{s}", gender=("female", "male")[s % 2])
            for s in range(10) for i, e in enumerate(("anger", "sadness"))]
    plan = make_split(utts, "loso", seed=0, val_fraction=0.25)
    index = by_id(utts)
    for fold in plan:
        # 9 training speakers * 0.25 = 2.25 -> 2 speakers, one of each gender first.
        val = {index[i].speaker for i in fold.val}
        assert len(val) == 2
        assert {index[i].gender for i in fold.val} == {"female", "male"}
        assert fold.notes[1] == f"validation speakers: {', '.join(sorted(val))}"
    assert plan.params["val_by"] == "speaker" and "val_fallback_folds" not in plan.params


def test_single_training_speaker_fallback_is_noted_in_fold_and_plan():
    utts = [utt(f"s{s}_{i}", e, speaker=f"s{s}") for s in range(2) for i, e in enumerate(["anger", "sadness"] * 3)]
    plan = make_split(utts, "loso", seed=0, val_fraction=0.34)
    assert plan.params["val_fallback_folds"] == ["s0", "s1"]
    for fold in plan:
        assert fold.notes[0].startswith("test: s")
        assert fold.notes[1].startswith("validation is not speaker-independent: only one training speaker")
        assert "stratified 0.34 utterance hold-out" in fold.notes[1]
        assert len(fold.val) == 2  # one of each class: round(0.34 * 3) = 1


def test_unknown_speakers_on_the_training_side_fall_back_for_final():
    utts = [utt(f"u{i}", e, speaker=("s1" if i < 4 else None)) for i, e in enumerate(["anger", "sadness"] * 4)]
    (fold,) = make_split(utts, "final", seed=0, val_fraction=0.25)
    assert fold.notes == ("validation is not speaker-independent: some training utterances have no speaker, "
                          "so it is a stratified 0.25 utterance hold-out of the training side",)
    assert len(fold.val) == 2


def test_speaker_kinds_are_flagged_speaker_independent_in_the_registry():
    flagged = {name for name in SPLITS.names() if SPLITS.get(name).speaker_independent}
    assert flagged == {"speaker_kfold", "loso", "loso_session", "heldout_speakers", "loco"}


def test_speaker_kfold_balances_genders_across_folds():
    utts = [utt(f"s{s}_{i}", e, speaker=f"s{s:02d}", gender=("female", "male")[s % 2])
            for s in range(8) for i, e in enumerate(("anger", "sadness"))]
    for seed in range(5):
        plan = make_split(utts, "speaker_kfold", seed=seed, n_folds=4)
        genders = {u.speaker: u.gender for u in utts}
        for group in plan.params["test_speakers"]:
            assert sorted(genders[s] for s in group) == ["female", "male"]


def test_validation_speakers_alternate_genders():
    genders = defaultdict(str)
    utts = []
    for s in range(9):
        genders[f"s{s}"] = ("female", "male", "female")[s % 3]
        utts += [utt(f"s{s}_{i}", e, speaker=f"s{s}", gender=genders[f"s{s}"]) for i, e in enumerate(("anger", "fear"))]
    (fold,) = make_split(utts, "final", seed=1, val_fraction=0.4)
    index = by_id(utts)
    val = {index[i].speaker for i in fold.val}
    assert len(val) == 4  # round(0.4 * 9) = 4: two of each gender
    assert Counter(genders[s] for s in val) == {"female": 2, "male": 2}
