"""What blind guessing earns on a catalog, with one instance per episode and with its batches.

``python -m benchmarks.blind_guess --catalog DIR [--json]`` reads every gym's instances.jsonl and
manifest (``batch_size`` K; episode g plays instances [g*K .. g*K+K-1]) and prints, pooled over
the catalog (share of all episodes right):

- constant: per gym, the best of the blind constants (False, True, 0, 1, [], "", None) submitted
  for every case of every episode;
- memorise: per gym, its most common answer (unbatched) or its most common list of K answers
  (batched) submitted every time.

"before" plays each instance as an episode (K=1); "after" plays the catalog's batches.
No tool code runs: only the recorded expected answers are read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codegym_mcp.runtime import Catalog, Gym, canonical_json, decode, values_equal

BLIND: tuple[Any, ...] = (False, True, 0, 1, [], "", None)


@dataclass
class Payoff:
    """Episodes of a catalog and how many each blind policy gets right."""

    episodes: int = 0
    constant: int = 0
    memorise: int = 0
    gyms_batched: int = 0
    gyms_over_target: int = 0  # gyms whose best constant is right on more than 5% of episodes

    def shares(self) -> dict[str, float]:
        """The pooled shares of episodes right."""
        n = max(1, self.episodes)
        return {"constant": self.constant / n, "memorise": self.memorise / n}


def _episodes(gym: Gym, k: int) -> list[list[Any]]:
    answers = [decode(i.expected) for i in gym.instances]
    return [answers[g * k : g * k + k] for g in range(len(answers) // k)]


def _add(payoff: Payoff, episodes: Sequence[list[Any]]) -> None:
    best = max(sum(all(values_equal(a, c) for a in ep) for ep in episodes) for c in BLIND)
    lists = Counter(canonical_json([str(canonical_json(a)) for a in ep]) for ep in episodes)
    payoff.episodes += len(episodes)
    payoff.constant += best
    payoff.memorise += lists.most_common(1)[0][1]
    payoff.gyms_over_target += best > 0.05 * len(episodes)


def measure(catalog: Catalog) -> tuple[Payoff, Payoff]:
    """(before, after): one instance per episode, and the catalog's batches."""
    before, after = Payoff(), Payoff()
    for task_id in catalog.task_ids():
        gym = catalog.load(task_id)
        k = gym.manifest.batch_size
        _add(before, _episodes(gym, 1))
        _add(after, _episodes(gym, k))
        after.gyms_batched += k > 1
    return before, after


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blind_guess", description=__doc__)
    parser.add_argument("--catalog", type=Path, required=True, metavar="DIR")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    before, after = measure(Catalog(args.catalog))
    if args.json:
        print(json.dumps({"before": asdict(before), "after": asdict(after)}, indent=2))
        return 0
    for name, p in (("one instance per episode", before), ("batched as generated", after)):
        s = p.shares()
        print(
            f"{name:26s} episodes {p.episodes:5d}   best constant {s['constant']:6.1%}   "
            f"memorise most common {s['memorise']:6.1%}   gyms with constant > 5%: {p.gyms_over_target}"
        )
    print(f"gyms with K > 1: {after.gyms_batched}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
