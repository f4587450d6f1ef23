"""Results: the four tables of a sweep, its config and facts, and the report's main tables of them."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import pandas as pd

from ..core.settings import REPORT_DEFAULTS

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
        from .stats import summary_table  # the statistics import JAX's criteria: only when asked for
        return summary_table(self.runs, self.stops, self._setting("success_tol"))

    def stopping_rules(self) -> pd.DataFrame:
        """The report's ``stopping_rules.csv``: per problem × stop rule, the steps used against the error
        at the stop, the steps wasted after f − f* ≤ ``f_target``, premature stops."""
        from .stats import rule_comparison
        return rule_comparison(self.runs, self.stops, self.curves, self._setting("success_tol"),
                               self._setting("f_target"))

    def _setting(self, key: str) -> float:
        return float(self.config.get(key, REPORT_DEFAULTS[key]))

    def __repr__(self):
        where = f", path={str(self.path)!r}" if self.path else ""
        counts = self.runs["status"].value_counts().to_dict() if len(self.runs) else {}
        return f"Results(runs={len(self.runs)}, stops={len(self.stops)}, status={counts}{where})"

    def _repr_html_(self) -> str:
        """A notebook's view: the counts by status, the sweep's settings, the summary's first rows and,
        for a sweep folder with a report, a link to it."""
        c = self.config or {}
        counts = self.runs["status"].value_counts().to_dict() if len(self.runs) else {}
        status = ", ".join(f"{html.escape(str(k))} {v:,}" for k, v in counts.items()) or "no runs"
        problems = sorted(self.runs["problem"].unique()) if len(self.runs) else []
        methods = list(dict.fromkeys(self.runs["method"])) if len(self.runs) else []
        facts = [("runs", f"{len(self.runs):,} ({status})"), ("problems", ", ".join(map(str, problems))),
                 ("methods", ", ".join(map(str, methods))), ("dtype", c.get("dtype", "")),
                 ("max_iter", f"{c.get('max_iter', '')}")]
        if self.facts.get("seconds") is not None:
            facts.append(("time", f"{self.facts['seconds']:.2f} s"))
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
                       f"{html.escape(str(v))}</td></tr>" for k, v in facts)
        head = f"<b>gdlab Results</b>: {html.escape(str(c.get('experiment', '')))}"
        report = self.path / "report" / "index.html" if self.path else None
        if report is not None and report.exists():
            head += f" — <a href='{html.escape(report.as_uri())}' target='_blank'>the report</a>"
        table = ""
        if len(self.runs) and len(self.stops):
            summary = self.summary()
            shown = summary.head(8).dropna(axis=1, how="all")
            table = (f"<p>summary ({len(summary):,} rows; <code>.summary()</code> has all):</p>"
                     + shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–"))
        return f"<div><p>{head}</p><table>{rows}</table>{table}</div>"
