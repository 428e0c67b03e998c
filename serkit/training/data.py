"""Feature sets and mini-batches for the fit loop.

Features are either one vector per utterance, ``(n, dim)``, or a sequence of frames per
utterance, a list of ``(frames_i, dim)`` arrays that batches pad and return with lengths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FeatureSet:
    """Features and integer class targets of one side of a split (train, val or test)."""

    features: np.ndarray | list[np.ndarray]
    targets: np.ndarray  # (n,) int64

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.features, list)

    def subset(self, index: Sequence[int]) -> "FeatureSet":
        if self.is_sequence:
            return FeatureSet([self.features[i] for i in index], self.targets[index])
        return FeatureSet(self.features[index], self.targets[index])

    def batches(
        self, batch_size: int, *, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]:
        """Yield ``(x, lengths, y)``; shuffled when a generator is given.

        ``x`` is ``(batch, dim)`` for vectors, ``(batch, max_frames, dim)`` zero-padded for
        sequences, with ``lengths`` ``(batch,)`` (None for vectors).
        """
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size].numpy()
            yield (*self._collate(index), torch.from_numpy(self.targets[index]))

    def _collate(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.is_sequence:
            return torch.from_numpy(np.ascontiguousarray(self.features[index])), None
        items = [self.features[i] for i in index]
        lengths = np.array([len(x) for x in items], dtype=np.int64)
        padded = np.zeros((len(items), lengths.max(), items[0].shape[-1]), dtype=np.float32)
        for row, x in enumerate(items):
            padded[row, : len(x)] = x
        return torch.from_numpy(padded), torch.from_numpy(lengths)


def class_weights(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights ``n / (C · n_c)`` from training targets (absent class: 0)."""
    counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = len(targets) / (present.sum() * counts[present])
    return weights.astype(np.float32)
