"""SpeechNet's paper protocol (issue 16): one fixed stratified 80/20 split, 10 training seeds,
200 epochs with the last kept, no class weights; its test side holds the paper's clip counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from serkit.corpora.base import Utterance
from serkit.errors import ConfigError, SplitError
from serkit.splits import make_split
from serkit.training.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "speechnet"

#: Clips per emotion (the paper's Table 1) and the test clips its accuracies are out of.
CORPORA = {
    "emodb": ({"anger": 127, "boredom": 81, "fear": 69, "disgust": 46, "happiness": 71, "sadness": 62,
               "neutral": 79}, 107),
    "savee": ({"anger": 60, "disgust": 60, "fear": 60, "happiness": 60, "sadness": 60, "surprise": 60,
               "neutral": 120}, 96),
    "casia": ({e: 200 for e in ("anger", "fear", "happiness", "neutral", "sadness", "surprise")}, 240),
}


def fake(counts: dict[str, int]) -> list[Utterance]:
    return [Utterance(id=f"{e}_{i:03d}", path=Path("x.wav"), corpus="fake", emotion=e, corpus_label=e)
            for e, n in counts.items() for i in range(n)]


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_paper_protocol_config_is_the_papers_recipe(corpus):
    config = load_config(CONFIGS / f"{corpus}_paper_protocol.yaml")
    assert config.data.corpora == [corpus]
    assert config.protocol.split == "holdout"
    assert config.protocol.params == {"test_fraction": 0.2, "val_fraction": 0, "rounding": "total"}
    assert config.protocol.split_seed == 0 and config.seeds == 10  # one split, 10 training runs
    t = config.training
    assert (t.epochs, t.batch_size, t.learning_rate, t.optimizer) == (200, 256, 0.001, "adam")
    assert t.select == "last" and t.early_stopping_patience is None
    assert t.loss.name == "balanced_margin" and t.class_weights is False
    assert config.model.name == "speechnet"


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_paper_protocol_split_holds_the_papers_test_clips(corpus):
    counts, paper_test = CORPORA[corpus]
    utts = fake(counts)
    config = load_config(CONFIGS / f"{corpus}_paper_protocol.yaml")
    plan = make_split(utts, config.protocol.split, seed=config.protocol.split_seed, **config.protocol.params)
    (fold,) = plan.folds
    assert len(fold.test) == paper_test
    assert len(fold.train) == len(utts) - paper_test and not fold.val
    # Stratified: each emotion within one clip of its 20 %.
    emotion = {u.id: u.emotion for u in utts}
    held = Counter(emotion[i] for i in fold.test)
    assert all(abs(held[e] - 0.2 * n) < 1 for e, n in counts.items()), held
    # The same split for every run seed, id for id.
    again = make_split(utts, config.protocol.split, seed=config.protocol.split_seed, **config.protocol.params)
    assert again.folds[0] == fold


def test_rounding_per_class_can_miss_the_total():
    # EmoDB at 20 %: rounding each emotion gives 106; the paper's accuracies are out of 107.
    utts = fake(CORPORA["emodb"][0])
    assert len(make_split(utts, "holdout", seed=0, test_fraction=0.2, val_fraction=0).folds[0].test) == 106
    total = make_split(utts, "holdout", seed=0, test_fraction=0.2, val_fraction=0, rounding="total")
    assert len(total.folds[0].test) == 107
    assert total.params["rounding"] == "total"


def test_rounding_total_with_validation_and_bad_values():
    utts = fake(CORPORA["emodb"][0])
    plan = make_split(utts, "holdout", seed=3, test_fraction=0.2, val_fraction=0.1, rounding="total")
    (fold,) = plan.folds
    assert len(fold.test) == 107 and len(fold.val) > 0
    assert not (set(fold.test) & set(fold.train)) and not (set(fold.val) & set(fold.train))
    with pytest.raises(SplitError, match="rounding must be one of 'class', 'total'"):
        make_split(utts, "holdout", seed=0, rounding="overall")
    with pytest.raises(ConfigError, match="'kfold' has no parameter 'rounding'"):
        make_split(utts, "kfold", seed=0, rounding="total")


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_random_configs_train_all_200_epochs_and_keep_the_last(corpus):
    config = load_config(CONFIGS / f"{corpus}_random.yaml")
    t = config.training
    assert t.epochs == 200 and t.select == "last" and t.early_stopping_patience is None
    assert config.protocol.params["test_fraction"] == 0.1 and t.class_weights is False
