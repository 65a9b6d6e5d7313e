"""Batch size per gym, chosen at generation so a blind guess does not pay (issue 10, item 4).

A gym whose answers a constant gets right on a share p of its instances pays a blind guess p
per episode. Batched episodes (see ``runtime/_batch.py``) ask for K answers at once, all of
which must be right, so a constant pays about p**K. Here, after verification and filters:

1. p = the share of the gym's instances whose expected answer is its most common answer;
2. K = the smallest in 1..8 with p**K <= 5% (1 when p <= 5%), but at most n_instances // 2 so
   the gym keeps at least 2 distinct episodes (``--batch K`` fixes K, under the same cap);
3. the instances are ordered (seeded, deterministic) so that the groups of K mix answers: a
   seeded shuffle, then swaps that make the most common list of expected answers rarer.

The plan reports the measured payoff: the share of episodes whose list of expected answers is
the most common list (what memorising the gym's most common answer list earns).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ...runtime import canonical_json
from ...schemas import Instance

__all__ = [
    "MAX_AUTO_BATCH",
    "TARGET_PAYOFF",
    "BatchPlan",
    "answer_mode_share",
    "batch_size_for",
    "case_steps_cap",
    "choose_batch_size",
    "episode_mode_share",
    "mix_answers",
    "plan_batches",
]

MAX_AUTO_BATCH = 8
"""The largest K ``--batch auto`` chooses."""

TARGET_PAYOFF = 0.05
"""The best constant answer should be right on at most this share of episodes."""

_SWAP_ROUNDS = 400


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """A gym's batch size, its instances in episode order, and the blind-guess payoffs measured.

    Attributes:
        size: K, the instances per episode (1: unbatched).
        instances: the instances in instances.jsonl order (episode g = [g*K .. g*K+K-1]).
        answer_share: p, the share of instances whose answer is the most common answer.
        episode_share: the share of episodes whose list of answers is the most common list.
    """

    size: int
    instances: list[Instance]
    answer_share: float
    episode_share: float


def _answer_key(instance: Instance) -> str:
    return canonical_json(instance.expected)


def answer_mode_share(instances: Sequence[Instance]) -> float:
    """p: the share of ``instances`` whose expected answer equals their most common one.

    Raises:
        ValueError: no instance given.
    """
    if not instances:
        raise ValueError("no instance: the best-constant payoff of an empty gym is undefined")
    counts = Counter(_answer_key(i) for i in instances)
    return counts.most_common(1)[0][1] / len(instances)


def _groups(keys: Sequence[str], k: int) -> list[tuple[str, ...]]:
    return [tuple(keys[g * k : g * k + k]) for g in range(len(keys) // k)]


def episode_mode_share(instances: Sequence[Instance], k: int) -> float:
    """The share of the ``n // k`` episodes whose list of expected answers is the most common list.

    Raises:
        ValueError: ``k`` is below 1 or above the number of instances.
    """
    if not 1 <= k <= len(instances):
        raise ValueError(f"batch size {k} does not fit {len(instances)} instances: need 1 <= K <= n")
    lists = Counter(_groups([_answer_key(i) for i in instances], k))
    return lists.most_common(1)[0][1] / sum(lists.values())


def choose_batch_size(p: float, n_instances: int, *, fixed: int | None = None) -> int:
    """K for a gym whose best constant answer is right on a share ``p`` of its ``n_instances``.

    ``fixed`` (``--batch K``) replaces the choice by p; either way K stays at most
    ``n_instances // 2`` (at least 2 distinct episodes) and at least 1.

    Raises:
        ValueError: ``p`` is outside 0..1, ``n_instances`` or ``fixed`` is below 1.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is a share of instances, 0..1; got {p}")
    if n_instances < 1:
        raise ValueError(f"a gym has at least one instance, got {n_instances}")
    if fixed is not None and fixed < 1:
        raise ValueError(f"--batch must be auto or a whole number >= 1, got {fixed}")
    if fixed is not None:
        wanted = fixed
    else:
        wanted = next((k for k in range(1, MAX_AUTO_BATCH + 1) if p**k <= TARGET_PAYOFF), MAX_AUTO_BATCH)
    return max(1, min(wanted, n_instances // 2))


def _score(keys: Sequence[str], k: int) -> tuple[int, int, int]:
    """Lower is better: (count of the most common list, groups whose K answers are all one
    answer (what a constant guess gets right), how many lists reach the top count)."""
    counts = Counter(_groups(keys, k))
    top = max(counts.values())
    uniform = sum(c for lst, c in counts.items() if len(set(lst)) == 1)
    return top, uniform, sum(1 for c in counts.values() if c == top)


def _to_break(keys: Sequence[str], k: int, played: int) -> list[int]:
    """The groups a swap should change: those of a repeated list, else the uniform ones."""
    groups = _groups(keys[:played], k)
    counts = Counter(groups)
    worst = max(counts, key=lambda lst: (counts[lst], lst))
    if counts[worst] > 1:
        return [g for g, lst in enumerate(groups) if lst == worst]
    return [g for g, lst in enumerate(groups) if len(set(lst)) == 1]


def mix_answers(instances: Sequence[Instance], k: int, *, seed: int, key: str) -> list[Instance]:
    """``instances`` ordered so that their groups of ``k`` mix answers (deterministic from seed, key).

    A shuffle seeded by ``seed`` and ``key`` (the task id), then bounded random swaps, each kept
    only when it makes the most common list of answers rarer, or else fewer groups hold one
    answer K times. ``k`` 1 keeps the order.

    Raises:
        ValueError: ``k`` is below 1 or above the number of instances.
    """
    if not 1 <= k <= len(instances):
        raise ValueError(f"batch size {k} does not fit {len(instances)} instances: need 1 <= K <= n")
    if k == 1:
        return list(instances)
    rng = random.Random(f"{seed}:{key}")
    order = list(instances)
    rng.shuffle(order)
    keys = [_answer_key(i) for i in order]
    best = _score(keys, k)
    played = (len(order) // k) * k
    for _ in range(_SWAP_ROUNDS):
        groups = _to_break(keys, k, played)
        if not groups:
            break
        a = rng.choice(groups) * k + rng.randrange(k)
        b = rng.randrange(len(order))
        if keys[a] == keys[b]:
            continue
        keys[a], keys[b] = keys[b], keys[a]
        score = _score(keys, k)
        if score < best:
            best = score
            order[a], order[b] = order[b], order[a]
        else:
            keys[a], keys[b] = keys[b], keys[a]
    return order


def batch_size_for(instances: Sequence[Instance], *, batch: int | None, min_size: int = 1) -> int:
    """K for these instances: by their best-constant share p (auto) or ``batch``, at least
    ``min_size`` with auto, under the cap of ``n // 2`` (see :func:`choose_batch_size`).

    Raises:
        ValueError: no instance given, or ``batch`` is below 1.
    """
    k = choose_batch_size(answer_mode_share(instances), len(instances), fixed=batch)
    if batch is None:
        k = max(k, min(min_size, len(instances) // 2))
    return k


def case_steps_cap(max_steps: int, k: int) -> int:
    """The most oracle calls a case may make so that any K of them stay within ``max_steps`` per
    episode: K cases of ``c`` calls make ``K*c - (K-1)`` (one submit for all)."""
    return (max_steps + k - 1) // k


def plan_batches(
    instances: Sequence[Instance], *, batch: int | None, seed: int, key: str, min_size: int = 1
) -> BatchPlan:
    """The batch size and episode order of one gym's kept instances (``batch`` None = auto).

    ``min_size``: with auto, K is at least this (short instances batched up to the episode's
    minimum length, see ``_filters.batch_to_reach``), under the same cap of ``n // 2``.

    Raises:
        ValueError: no instance given, or ``batch`` is below 1.
    """
    p = answer_mode_share(instances)
    k = batch_size_for(instances, batch=batch, min_size=min_size)
    ordered = mix_answers(instances, k, seed=seed, key=key)
    return BatchPlan(
        size=k,
        instances=ordered,
        answer_share=round(p, 6),
        episode_share=round(episode_mode_share(ordered, k), 6),
    )
