"""Learning-rate schedules, by name: ``training.scheduler: {name, params}``.

A schedule steps once per epoch, after the epoch's training; its state is part of the
training state, so a resumed fit continues the same schedule.

Example:
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    >>> schedule = make_scheduler("step", opt, step_size=10, gamma=0.1)  # SERCT's StepLR(10, 0.1)
    >>> type(schedule).__name__
    'StepLR'
"""

from __future__ import annotations

from typing import Any

import torch

from serkit.registry import Registry


def _step(optimizer, *, step_size: int = 10, gamma: float = 0.1):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs (torch's StepLR)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(step_size), gamma=float(gamma))


def _cosine(optimizer, *, t_max: int = 100, eta_min: float = 0.0):
    """Cosine annealing from the initial rate to ``eta_min`` over ``t_max`` epochs."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(t_max), eta_min=float(eta_min))


def _exponential(optimizer, *, gamma: float = 0.95):
    """Multiply the rate by ``gamma`` after every epoch."""
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(gamma))


#: Schedules by name; each builds a torch LR scheduler for an optimizer.
SCHEDULERS: Registry = Registry("scheduler")
SCHEDULERS.register("step", _step)
SCHEDULERS.register("cosine", _cosine)
SCHEDULERS.register("exponential", _exponential)


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, **params: Any):
    """The schedule ``name`` for ``optimizer`` (ConfigError on unknown names or params)."""
    return SCHEDULERS.create(name, optimizer, **params)
