"""Results: the four tables of a sweep, its config and facts, and the report's main tables of them."""

from __future__ import annotations

import dataclasses
import html
import importlib
from pathlib import Path

import pandas as pd

from ..core.settings import REPORT_DEFAULTS

__all__ = ["Results"]


def _above(module: str):
    """A module of a layer above this one (runner, report), imported when a method that needs it is
    called: as pandas finds its plotting backend, so that the tables layer imports none of them."""
    return importlib.import_module(module)


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
        runs, success rate, stop steps, premature stops, aRT… (``success_tol`` and ``report.grad_cost``
        from the config)."""
        from .stats import problem_grad_costs, summary_table  # (they import JAX's criteria: when asked for)
        grad_cost = ((self.config or {}).get("report") or {}).get("grad_cost", 1)   # aRT_evals counts with it
        return summary_table(self.runs, self.stops, self._setting("success_tol"),
                             problem_grad_costs(self.runs, grad_cost))

    def stopping_rules(self) -> pd.DataFrame:
        """The report's ``stopping_rules.csv``: per problem × stop rule, the steps used against the error
        at the stop, the steps wasted after f − f* ≤ ``f_target``, premature stops."""
        from .stats import rule_comparison
        return rule_comparison(self.runs, self.stops, self.curves, self._setting("success_tol"),
                               self._setting("f_target"))

    def where(self, **columns) -> Results:
        """The runs whose columns equal the values given (a list: any of them), with their rows of the
        other tables: ``res.where(alpha=0.005)``, ``res.where(method=["gd", "adam"], problem="rosenbrock")``.
        The selection is not a sweep folder's (``path`` None)."""
        keep = pd.Series(True, index=self.runs.index)
        for column, value in columns.items():
            if column not in self.runs.columns:
                raise KeyError(f"the runs table has no column {column!r} (columns: {', '.join(self.runs.columns)})")
            values = value if isinstance(value, (list, tuple, set)) else [value]
            keep &= self.runs[column].isin(values)
        ids = self.runs.loc[keep, "run_id"]
        tables = [self.runs[keep]] + [t[t["run_id"].isin(ids)] for t in (self.stops, self.curves, self.traces)]
        return dataclasses.replace(self, runs=tables[0].reset_index(drop=True), stops=tables[1].reset_index(drop=True),
                                   curves=tables[2].reset_index(drop=True), traces=tables[3].reset_index(drop=True),
                                   path=None, facts={**(self.facts or {}), "where": {**(self.facts or {}).get(
                                       "where", {}), **{k: _plain_value(v) for k, v in columns.items()}}})

    def plot(self, kind: str, problem: str | None = None, method: str | None = None, ax=None, **options):
        """Draw one of the report's figures and return its matplotlib axes: ``curve``, ``bands``, ``ecdf``,
        ``heatmap``, ``basins`` or ``rules`` (:func:`gdlab.report.plots.plot` says what each needs)."""
        return _above("gdlab.report.plots").plot(self, kind, problem=problem, method=method, ax=ax, **options)

    def save(self, path: Path | str | None = None, report: bool = True, log=print) -> Path:
        """Write these results as a sweep folder (``path``, default ``<out_dir>/<experiment>/<sweep id>``)
        with its report (``report=False``: the tables alone), as the ``gdlab`` command would have; set
        and return :attr:`path`; ``log=None`` says nothing. :func:`gdlab.runner.execute.save_results`
        says what is written."""
        log = log if log is not None else (lambda line: None)
        folder = _above("gdlab.runner.execute").save_results(self, path, log=log)
        if report:
            _above("gdlab.report.page").build(folder, log=log, show_progress=False)
        return folder

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


def _plain_value(value):
    """A ``where`` value as facts keep it (a set as a sorted list)."""
    return sorted(value, key=str) if isinstance(value, set) else list(value) if isinstance(value, tuple) else value
