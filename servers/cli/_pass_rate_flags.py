"""``--min-pass-rate/--max-pass-rate``: the hardness filter's flags, shared by serve, rollout and calibrate."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ._main import UsageError

if TYPE_CHECKING:
    from ...runtime import Catalog, PassRateRange

__all__ = ["add_pass_rate_arguments", "filtered_catalog", "pass_rates_from_args"]


def add_pass_rate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the two flags to a verb's parser."""
    group = parser.add_argument_group(
        "hardness filter (needs CATALOG/calibration.json from `codegym-mcp calibrate`)"
    )
    group.add_argument(
        "--min-pass-rate",
        type=float,
        metavar="P",
        help="only episodes the calibrated model solved at least this often (default 0)",
    )
    group.add_argument(
        "--max-pass-rate",
        type=float,
        metavar="P",
        help="only episodes the calibrated model solved at most this often (the paper: 0.25; its hard "
        "set: 0.125); episodes without a measurement are kept",
    )


def pass_rates_from_args(args: argparse.Namespace) -> PassRateRange | None:
    """The range the flags ask for, or None when neither is given.

    Raises:
        UsageError: a bound outside [0, 1], or min above max.
    """
    low: float | None = getattr(args, "min_pass_rate", None)
    high: float | None = getattr(args, "max_pass_rate", None)
    if low is None and high is None:
        return None
    from ...runtime import PassRateRange

    try:
        return PassRateRange(min_rate=0.0 if low is None else low, max_rate=1.0 if high is None else high)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def filtered_catalog(catalog: Catalog, args: argparse.Namespace, *, quiet: bool = False) -> Catalog:
    """``catalog`` seen through the filter the flags ask for (itself when none); says on stderr what
    the filter kept, unmeasured episodes included.

    Raises:
        UsageError: bad bounds, no valid calibration.json, or nothing left in range.
    """
    rates = pass_rates_from_args(args)
    if rates is None:
        return catalog
    from ...runtime import CalibratedCatalog, CatalogError

    try:
        view = CalibratedCatalog(catalog.path, rates)
        counts = view.counts()
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    if not quiet:
        calibration = view.calibration
        print(
            f"{counts.format(rates)} (calibration: {calibration.model}, {calibration.samples} samples, "
            f"{calibration.created})",
            file=sys.stderr,
            flush=True,
        )
    if counts.kept == 0:
        raise UsageError(
            f"no episode of {catalog.path} has a {rates.describe()}: widen --min-pass-rate/--max-pass-rate"
        )
    return view
