"""Exact plans, parameters, notes and messages of the split kinds: what the property tests
(test_split_properties.py) leave open and mutation testing found unchecked (docs/testing.md).

The plan digests pin every kind's output on a corpus with female, male and unknown-gender
speakers in two corpora: committed results depend on them, so a change must be deliberate
(update the digest and say why in the commit).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from serkit.corpora.base import Utterance
from serkit.errors import SplitError
from serkit.splits import Fold, SplitPlan, make_split, split_kinds

GENDERS = ["female", "male", None, "female", "male", "female", None, "male", "female", "male"]


def corpus() -> list[Utterance]:
    out = []
    for s in range(10):
        c = ("ca", "cb")[s % 2]
        for i, e in enumerate(["anger", "sadness", "neutral", "anger", "sadness", "neutral"]):
            out.append(Utterance(id=f"{c}/{s:02d}_{i}", path=Path("x.wav"), corpus=c, emotion=e, corpus_label=e,
                                 speaker=f"{c}-{s:02d}", gender=GENDERS[s], session=f"S{s // 2}",
                                 official_split=("train", "train", "train", "evaluation", "test", "train")[i]))
    return out


def utt(uid, emotion="anger", *, speaker=None, gender=None, corpus="c0", session=None):
    return Utterance(id=uid, path=Path("x.wav"), corpus=corpus, emotion=emotion, corpus_label=emotion,
                     speaker=speaker, gender=gender, session=session)


#: sha256 of plan.to_json()[:16]. Only "final" changed with the fixes of issue 23: its
#: params["val_by"] said "utterance" for whole-speaker validation (ids unchanged); "loco"
#: changed with issue 15: its params list test_corpora and val_by (ids unchanged).
DIGESTS = {
    ("final", 0): "a1ea6fd019524100",
    ("final", 7): "cf05b50b839d9ab6",
    ("heldout_speakers", 0): "c4c82e12bdd94ad5",
    ("heldout_speakers", 7): "e48e4c98e48a9b7b",
    ("holdout", 0): "91c5e2afe8d82063",
    ("holdout", 7): "e7699f33a6534604",
    ("kfold", 0): "2521ff3c2f3ddf13",
    ("kfold", 7): "3edc1142a6a5798a",
    ("loco", 0): "5853afce2fc7dc26",
    ("loco", 7): "d653403b81b476ff",
    ("loso", 0): "e010d57eea75fb77",
    ("loso", 7): "deac4ec29b909bd5",
    ("loso_session", 0): "b60caf4b14bee99c",
    ("loso_session", 7): "73b3ecc9f0c7b2e8",
    ("official", 0): "b31dca6f0b9578b7",
    ("speaker_kfold", 0): "7ac0f92f5580f32a",
    ("speaker_kfold", 7): "7777672bcba5e410",
}
OPTIONS = {"speaker_kfold": {"n_folds": 3}, "kfold": {"n_folds": 3}, "heldout_speakers": {"n_folds": 2},
           "holdout": {"test_fraction": 0.2, "rounding": "total"}}


def test_every_kind_has_a_digest():
    assert {kind for kind, _ in DIGESTS} == set(split_kinds())


@pytest.mark.parametrize(("kind", "seed"), sorted(DIGESTS))
def test_plans_are_exactly_the_committed_ones(kind, seed):
    plan = make_split(corpus(), kind, seed=seed, **OPTIONS.get(kind, {}))
    assert hashlib.sha256(plan.to_json().encode()).hexdigest()[:16] == DIGESTS[kind, seed]


# --------------------------------------------------------------------------- parameters and notes


def test_final_says_how_it_validates():
    plan = make_split(corpus(), "final", seed=0)
    assert plan.params["val_by"] == "speaker" and plan.folds[0].notes[0].startswith("validation speakers: ")
    one = make_split([utt(f"u{i}", e, speaker="s") for i, e in enumerate(["anger", "sadness"] * 3)], "final",
                     seed=0, val_fraction=0.34)
    assert one.params["val_by"] == "utterance"
    assert make_split(corpus(), "final", seed=0, val_fraction=0).params["val_by"] == "none"
    assert one.folds[0].notes == ("validation is not speaker-independent: only one training speaker (s), so it "
                                  "is a stratified 0.34 utterance hold-out of the training side",)


def test_heldout_speakers_names_folds_and_says_how_it_paired():
    plan = make_split(corpus(), "heldout_speakers", seed=0, n_folds=2)
    assert plan.params["pairing"] == "one female and one male speaker per fold, paired at random"
    for fold, group in zip(plan, plan.params["test_speakers"]):
        assert fold.name == "+".join(group) and len(group) == 2
    explicit = make_split(corpus(), "heldout_speakers", seed=0, speakers=[["cb-01", "ca-00"]])
    assert explicit.params["pairing"] == "explicit" and explicit.params["test_speakers"] == [["ca-00", "cb-01"]]
    assert [f.name for f in explicit] == ["ca-00+cb-01"]


def test_speaker_kfold_lists_its_test_speakers():
    plan = make_split(corpus(), "speaker_kfold", seed=0, n_folds=3)
    groups = plan.params["test_speakers"]
    assert [len(g) for g in groups] == [4, 3, 3] and all(g == sorted(g) for g in groups)
    index = {u.id: u.speaker for u in corpus()}
    assert [sorted({index[i] for i in f.test}) for f in plan] == groups


def test_holdout_rounds_per_class_or_in_total_as_asked():
    # EmoDB's class sizes at 0.2: 106 per class (half up), 107 in total (scikit-learn's rule).
    sizes = {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79}
    utts = [utt(f"{e}{i:03d}", e) for e, n in sizes.items() for i in range(n)]
    by_class = make_split(utts, "holdout", seed=0, test_fraction=0.2, val_fraction=0)
    in_total = make_split(utts, "holdout", seed=0, test_fraction=0.2, val_fraction=0, rounding="total")
    assert len(by_class.folds[0].test) == 106 and len(in_total.folds[0].test) == 107
    assert by_class.params["rounding"] == "class" and in_total.params["rounding"] == "total"
    assert by_class.folds[0].name == "holdout" and by_class.params["val_by"] == "none"
    with_val = make_split(utts, "holdout", seed=0, test_fraction=0.2)
    assert with_val.params["val_by"] == "utterance"


def test_holdout_validation_is_by_utterance_even_with_speakers():
    plan = make_split(corpus(), "holdout", seed=0, test_fraction=0.2, val_fraction=0.2)
    (fold,) = plan
    assert fold.notes == ()  # no "validation speakers" note: utterances, not speakers
    index = {u.id: u.speaker for u in corpus()}
    assert {index[i] for i in fold.val} & {index[i] for i in fold.train}


def test_stratified_sides_take_at_least_one_and_never_all_of_a_class():
    utts = [utt(f"a{i}", "anger") for i in range(2)] + [utt(f"s{i}", "sadness") for i in range(10)]
    (fold,) = make_split(utts, "holdout", seed=0, test_fraction=0.01, val_fraction=0)
    assert sorted(i[0] for i in fold.test) == ["a", "s"]
    (fold,) = make_split(utts, "holdout", seed=0, test_fraction=0.95, val_fraction=0)
    assert sorted(i[0] for i in fold.train) == ["a", "s"]  # one of each class left to train on


def test_validation_skips_a_single_utterance_class_but_splits_the_others():
    # "anger" (first in order) has one training utterance: it stays in training, and the
    # classes after it still give validation utterances.
    utts = ([utt("a0", "anger")] + [utt(f"h{i}", "happiness") for i in range(10)]
            + [utt(f"s{i}", "sadness") for i in range(10)])
    train, val, notes = _validation_of(utts, 0.2)
    assert "a0" in train and sorted(i[0] for i in val) == ["h", "h", "s", "s"]


def _validation_of(utts, fraction):
    import numpy as np

    from serkit.splits import _validation

    return _validation(utts, np.random.default_rng(0), fraction, by_speaker=False)


def test_a_class_of_two_can_be_stratified_and_one_cannot():
    two = [utt("a0", "anger"), utt("a1", "anger"), utt("s0", "sadness"), utt("s1", "sadness")]
    (fold,) = make_split(two, "holdout", seed=0, test_fraction=0.5, val_fraction=0)
    assert len(fold.test) == 2
    with pytest.raises(SplitError, match="^class 'sadness' has 1 utterance, too few to stratify a test set "
                                         "\\(needs 2\\); drop it with a label scheme or use more data$"):
        make_split(two[:3], "holdout", seed=0, test_fraction=0.5)


def test_two_speakers_two_sessions_are_enough():
    utts = [utt("a", speaker="s1", session="A"), utt("b", speaker="s2", session="B")]
    assert len(make_split(utts, "loso", seed=0)) == 2
    assert len(make_split(utts, "loso_session", seed=0)) == 2


def test_loso_session_ignores_utterances_without_a_speaker_for_the_leak_check():
    utts = [utt("a", session="A"), utt("b", session="B"), utt("c", speaker="s1", session="A"),
            utt("d", speaker="s2", session="B")]
    assert len(make_split(utts, "loso_session", seed=0, val_fraction=0)) == 2


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize(("kind", "options"), [("loso", {}), ("speaker_kfold", {"n_folds": 2}),
                                               ("heldout_speakers", {})])
def test_kinds_that_need_speakers_say_so_by_name(kind, options):
    utts = [utt("a", speaker="s1"), utt("b", speaker="s2"), utt("c")]
    with pytest.raises(SplitError, match=f"^{kind} needs a speaker for every utterance, but 1 of 3 have none "
                                         f"\\(e.g. 'c'\\); use a random split \\('holdout' or 'kfold'\\)$"):
        make_split(utts, kind, seed=0, **options)


def test_messages_name_the_corpus_or_the_data():
    one = [utt("a", speaker="s1")]
    with pytest.raises(SplitError, match="^loso needs at least 2 speakers; c0 has 1: use a random split \\('kfold'\\)$"):
        make_split(one, "loso", seed=0)
    mixed = [utt("a", speaker="s1"), utt("b", speaker="s2", corpus="c1")]
    with pytest.raises(SplitError, match="^speaker_kfold with 3 folds needs at least 3 speakers; the data has 2"):
        make_split(mixed, "speaker_kfold", seed=0, n_folds=3)
    with pytest.raises(SplitError, match="^loco \\(leave one corpus out\\) needs utterances from at least 2 corpora; "
                                         "got only 'c0': merge corpora with serkit.corpora.merge_corpora, or use "
                                         "another split kind$"):
        make_split(one, "loco", seed=0)


def test_heldout_speakers_messages():
    utts = corpus()
    with pytest.raises(SplitError, match="^heldout_speakers takes either speakers \\(explicit groups\\) or n_folds, "
                                         "not both$"):
        make_split(utts, "heldout_speakers", seed=0, speakers=[["ca-00"]], n_folds=2)
    with pytest.raises(SplitError, match=re.escape("heldout_speakers: unknown speaker(s) 'x', 'y'; ca has: ")):
        make_split([u for u in utts if u.corpus == "ca"], "heldout_speakers", seed=0, speakers=[["x", "y"]])
    many = [utt(f"u{s}", speaker=f"s{s:02d}") for s in range(13)]
    with pytest.raises(SplitError, match=re.escape("c0 has: " + ", ".join(f"s{s:02d}" for s in range(12)) + ", ...")):
        make_split(many, "heldout_speakers", seed=0, speakers=[["x"]])
    twelve = many[:12]
    with pytest.raises(SplitError, match=re.escape("c0 has: " + ", ".join(f"s{s:02d}" for s in range(12))) + "$"):
        make_split(twelve, "heldout_speakers", seed=0, speakers=[["x"]])
    nobody = [utt("a", speaker="s1"), utt("b", speaker="s2")]
    with pytest.raises(SplitError, match="^heldout_speakers with 1 fold\\(s\\) tests one female and one male speaker "
                                         "per fold, so it needs 1 of each; c0 has 0 female and 0 male"):
        make_split(nobody, "heldout_speakers", seed=0)


def test_check_names_the_corpus_or_the_utterances_and_shortens_long_lists():
    plan = make_split(corpus(), "loso", seed=0)
    fewer = corpus()[:-6]  # drops cb-09's six utterances
    with pytest.raises(SplitError, match=re.escape("loso split plan names 6 utterance id(s) not in the given "
                                                   "utterances ('cb/09_0', 'cb/09_1', 'cb/09_2', 'cb/09_3', "
                                                   "'cb/09_4', ...); was it made for another corpus, label scheme "
                                                   "or version? Make the split again with make_split")):
        plan.check(fewer)
    with pytest.raises(SplitError, match=re.escape("('cb/09_1', 'cb/09_2', 'cb/09_3', 'cb/09_4', 'cb/09_5');")):
        plan.check(corpus()[:-6] + corpus()[-6:-5])


def test_loading_says_which_file_and_what_is_wrong(tmp_path):
    path = tmp_path / "folds.json"
    with pytest.raises(SplitError, match=f"^cannot read split plan {re.escape(repr(str(path)))}: "
                                         f"No such file or directory$"):
        SplitPlan.load(path)
    plan = make_split(corpus(), "loso", seed=0)
    data = plan.to_dict()
    data["version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(SplitError, match=f"^split plan {re.escape(repr(str(path)))} has split plan version 99; "
                                         f"this serkit reads version 1$"):
        SplitPlan.load(path)
    data = plan.to_dict()
    del data["kind"]
    with pytest.raises(SplitError, match="^plan.json is a damaged split plan \\(KeyError: 'kind'\\); make it again "
                                         "with serkit.splits.make_split$"):
        SplitPlan.from_dict(data, source="plan.json")


def test_notes_are_optional_in_a_saved_plan():
    data = make_split(corpus(), "loso", seed=0).to_dict()
    for fold in data["folds"]:
        del fold["notes"]
    assert all(f.notes == () for f in SplitPlan.from_dict(data))
    assert SplitPlan.from_json(json.dumps(data)).folds[0].notes == ()


@pytest.mark.parametrize(("sides", "pair"), [(("u1", "u1", ""), "train and val"),
                                             (("u1", "", "u1"), "train and test"),
                                             (("", "u1", "u1"), "val and test")])
def test_overlapping_sides_are_named(sides, pair):
    fold = Fold("f", *(tuple(s for s in [side] if s) for side in sides))
    data = SplitPlan("loso", 0, {}, (fold,)).to_dict()
    with pytest.raises(SplitError, match=f"^src: fold 'f' has 1 id\\(s\\) in both {pair} \\(e.g. 'u1'\\); the plan "
                                         f"is damaged, make it again$"):
        SplitPlan.from_dict(data, source="src")


def test_plans_are_written_as_readable_utf8():
    plan = make_split([utt("Müller_1", speaker="ä"), utt("Müller_2", speaker="ö")], "loso", seed=0, val_fraction=0)
    assert "Müller_1" in plan.to_json() and "\\u00fc" not in plan.to_json()


def test_a_plan_without_a_source_is_called_split_plan():
    with pytest.raises(SplitError, match="^split plan is not a serkit split plan"):
        SplitPlan.from_json("{}")
    with pytest.raises(SplitError, match="^split plan is not a serkit split plan"):
        SplitPlan.from_dict([])


def test_total_shares_give_the_leftover_to_the_largest_fraction_not_the_largest_class():
    import numpy as np

    from serkit.splits import _total_shares

    # 0.5 of (10, 3): 7 in all; exact shares 5.38 and 1.62, so the leftover goes to b.
    assert _total_shares({"a": 10, "b": 3}, 0.5, np.random.default_rng(0)) == {"a": 5, "b": 2}


def test_fold_names_are_made_path_safe():
    utts = [utt("a", speaker="anna maria/1"), utt("b", speaker="bob+2.x")]
    assert [f.name for f in make_split(utts, "loso", seed=0, val_fraction=0)] == ["anna_maria_1", "bob+2.x"]


def test_validation_never_takes_every_training_speaker():
    utts = [utt(f"{s}{i}", e, speaker=s) for s in ("s1", "s2") for i, e in enumerate(["anger", "sadness"])]
    (fold,) = make_split(utts, "final", seed=0, val_fraction=0.9)
    index = {u.id: u.speaker for u in utts}
    assert len({index[i] for i in fold.val}) == 1 and len({index[i] for i in fold.train}) == 1


@pytest.mark.parametrize(("options", "message"), [
    ({"test_fraction": 0.0}, "test_fraction must be in (0, 1), not 0.0; e.g. 0.1 for 10%"),
    ({"test_fraction": "0.1"}, "test_fraction must be a number in (0, 1), not '0.1'"),
    ({"val_fraction": "x"}, "val_fraction must be a number in [0, 1), not 'x'"),
    ({"val_fraction": 1.5}, "val_fraction must be in [0, 1) (0 means no validation), not 1.5; e.g. 0.1 for 10%"),
])
def test_fraction_messages(options, message):
    with pytest.raises(SplitError, match=f"^{re.escape(message)}$"):
        make_split([utt("a"), utt("b")], "holdout", seed=0, **options)


def test_repeated_ids_are_refused_naming_one():
    with pytest.raises(SplitError, match="^utterance ids must be unique to split, but 1 repeat \\(e.g. 'a'\\); merge "
                                         "corpora with serkit.corpora.merge_corpora, which prefixes ids$"):
        make_split([utt("a"), utt("a"), utt("b")], "holdout", seed=0)


def test_an_empty_split_names_its_kind():
    with pytest.raises(SplitError, match="^cannot make a loso split of no utterances; is the corpus \\(or label "
                                         "scheme\\) empty\\?$"):
        make_split([], "loso", seed=0)
