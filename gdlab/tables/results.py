"""Results: the four tables of a sweep, its config and facts, and the report's main tables of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from .stats import REPORT_DEFAULTS, rule_comparison, summary_table

__all__ = ["Results"]


@dataclasses.dataclass
class Results:
    """The tables of a sweep. ``path`` is the sweep folder where the results are stored (None in memory)."""

    runs: pd.DataFrame
    stops: pd.DataFrame
    curves: pd.DataFrame
    traces: pd.DataFrame
    config: dict
    facts: dict
    path: Path | None = None

    def summary(self) -> pd.DataFrame:
        """The report's ``summary.csv`` of these runs: per problem × method × α × γ × stop rule, the
        runs, success rate, stop steps, premature stops, aRT… (``success_tol`` from the config)."""
        return summary_table(self.runs, self.stops, self._setting("success_tol"))

    def stopping_rules(self) -> pd.DataFrame:
        """The report's ``stopping_rules.csv``: per problem × stop rule, the steps used against the error
        at the stop, the steps wasted after f − f* ≤ ``f_target``, premature stops."""
        return rule_comparison(self.runs, self.stops, self.curves, self._setting("success_tol"),
                               self._setting("f_target"))

    def _setting(self, key: str) -> float:
        return float(self.config.get(key, REPORT_DEFAULTS[key]))

    def __repr__(self):
        where = f", path={str(self.path)!r}" if self.path else ""
        counts = self.runs["status"].value_counts().to_dict() if len(self.runs) else {}
        return f"Results(runs={len(self.runs)}, stops={len(self.stops)}, status={counts}{where})"
