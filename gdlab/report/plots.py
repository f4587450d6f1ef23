"""The report's figures, one at a time, from a :class:`~gdlab.tables.results.Results` in memory:
what ``Results.plot(kind, …)`` draws in a notebook.

Each kind draws on one matplotlib ``ax`` (a new figure's where none is given) and returns it. The
statistics are the report's (:mod:`gdlab.tables.stats`) over all the results' runs; the figures are
the report's (:mod:`gdlab.report.figures`). Importing this module leaves matplotlib's backend alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd

from ..core.errors import InputError
from ..core.names import did_you_mean
from ..core.problems import Problem
from ..runner.schema import validate
from ..tables.results import Results
from ..tables.stats import (
    convergence_bands,
    ecdf_targets,
    problem_f_star,
    problems_with_minima,
    rule_outcomes,
    setting_columns,
    summary_table,
)
from . import figures as F
from .page import _label

__all__ = ["plot", "KINDS"]


def _problem(res: Results, name: str | None) -> Problem:
    present = set(res.runs["problem"])           # a .where selection holds some of the sweep's problems
    problems = {p.name: p for p in validate(res.config).problems if p.name in present}
    if name is None:
        if len(problems) > 1:
            raise InputError(f"these results hold {len(problems)} problems ({', '.join(problems)}): name one, "
                             f"as in plot(kind, problem={next(iter(problems))!r})")
        return next(iter(problems.values()))
    if name not in problems:
        raise InputError(f"no problem {name!r} in these results (they hold {', '.join(problems)})"
                         f"{did_you_mean(name, problems)}")
    return problems[name]


def _runs(res: Results, problem: Problem, method: str | None) -> pd.DataFrame:
    runs = res.runs[res.runs["problem"] == problem.name]
    if method is not None:
        if method not in set(runs["method"]):
            raise InputError(f"no runs of method {method!r} on {problem.name} (methods: "
                             f"{', '.join(dict.fromkeys(runs['method']))})")
        runs = runs[runs["method"] == method]
    return runs


def _needs(res: Results, table: str, kind: str, how: str) -> pd.DataFrame:
    frame = getattr(res, table)
    if not len(frame):
        raise InputError(f"plot({kind!r}) draws the {table} table, and these results have none: {how}")
    return frame


def _curve(res, problem, runs, ax, xlim=None):
    traces = _needs(res, "traces", "curve", "run with traces=1 or more")
    if problem.dim == 1:
        run = traces[traces["run_id"].isin(runs["run_id"])]
        first = run[run["run_id"] == run["run_id"].min()]
        status = runs.loc[runs["run_id"] == first["run_id"].min(), "status"]
        keys = setting_columns(runs.columns)
        label = _label(runs[runs["run_id"] == first["run_id"].min()], keys[1:]).iloc[0] if len(first) else ""
        return F.plot_curve_1d(problem, first, f"{problem.name}: the path of {label}", ax, xlim=xlim,
                               status=f"ended {status.iloc[0]}" if len(status) else None)
    if problem.dim == 2:
        return F.plot_paths_2d(problem, traces[traces["run_id"].isin(runs["run_id"])], f"{problem.name}: paths", ax)
    raise InputError(f"plot('curve') draws 1-D and 2-D problems; {problem.name} is {problem.dim}-D "
                     "(plot('bands') draws any)")


def _bands(res, problem, runs, ax):
    curves = _needs(res, "curves", "bands", "run with curves: true")
    keys = setting_columns(runs.columns)
    bands = convergence_bands(runs, curves[curves["run_id"].isin(runs["run_id"])], keys)
    bands["label"] = _label(bands, keys[1:])
    return F.plot_bands(bands, f"{problem.name}: median and 10–90% band across starts", ax)


def _ecdf(res, problem, runs, ax):
    curves = _needs(res, "curves", "ecdf", "run with curves: true")
    if not problem.f_min:
        raise InputError(f"plot('ecdf') needs f* (targets are f − f* ≤ 10^k); {problem.name} has no known "
                         "minimum (give the problem f_min)")
    keys = setting_columns(runs.columns)
    hits = ecdf_targets(runs, curves[curves["run_id"].isin(runs["run_id"])], keys,
                        f_star=problem_f_star(runs, {problem.name: problem.f_min}))
    hits["label"] = _label(hits, keys[1:])
    return F.plot_ecdf(hits, f"{problem.name}: ECDF of steps to reach f − f* ≤ 10^k", int(runs["n_iter"].max()), ax)


def _heatmap(res, problem, runs, ax, rows="alpha", columns="epsilon", value="success_rate", criterion=None,
             epsilon=None, min_steps=None):
    s = summary_table(runs, res.stops[res.stops["run_id"].isin(runs["run_id"])], res._setting("success_tol"))
    crits = list(dict.fromkeys(s["criterion"]))
    criterion = criterion or crits[0]
    if criterion not in crits:
        raise InputError(f"no rule {criterion!r} in these results (rules: {', '.join(crits)})")
    s = s[s["criterion"] == criterion]
    for column, want in (("epsilon", epsilon), ("min_steps", min_steps)):
        if want is not None:
            if want not in set(s[column]):
                raise InputError(f"no rule with {column}={want!r} (these have {sorted(set(s[column]))})")
            s = s[s[column] == want]
    if s["method"].nunique() > 1:
        raise InputError(f"plot('heatmap') draws one method; these runs have {', '.join(s['method'].unique())}: "
                         "pass method=…")
    method = s["method"].iloc[0] if len(s) else ""
    s = s[s[rows].notna() & s[columns].notna()] if {rows, columns} <= set(s.columns) else s.iloc[:0]
    if not len(s):
        raise InputError(f"no runs of {method} have both {rows} and {columns} (rows=…, columns=…: two numeric "
                         "columns of the summary, such as alpha, epsilon, min_steps or a hyperparameter)")
    # a cell is one setting and rule: every other setting or rule column must hold one value
    others = [c for c in [*setting_columns(runs.columns)[2:], "epsilon", "min_steps"]
              if c not in (rows, columns) and c in s.columns and s[c].nunique(dropna=True) > 1]
    if others:
        rule = [c for c in others if c in ("epsilon", "min_steps")]
        setting = [c for c in others if c not in rule]
        def first(c):
            v = s[c].dropna().iloc[0]
            return repr(v.item() if hasattr(v, "item") else v)
        how = [f"plot('heatmap', …, {c}={first(c)})" for c in rule]
        if setting:
            how.append("results.where(" + ", ".join(f"{c}={first(c)}" for c in setting) + ").plot('heatmap', …)")
        raise InputError(f"plot('heatmap') draws {rows} × {columns}, and {', '.join(others)} also vary in these "
                         f"runs: keep one value of each ({'; '.join(how)})")
    fmt = "{:.2f}" if value == "success_rate" else "{:.3g}"
    return F.plot_heatmap(s, value, f"{problem.name}, {method}: {value}, rule {criterion} < ε", ax, fmt=fmt,
                          limits=(0.0, 1.0) if value == "success_rate" else None, rows=rows, columns=columns)


def _basins(res, problem, runs, ax):
    if problem.dim != 2:
        raise InputError(f"plot('basins') colors 2-D starts; {problem.name} is {problem.dim}-D")
    return F.plot_basins(problem, runs, f"{problem.name}: where each start ends", ax,
                         tol=res._setting("success_tol"))


def _rules(res, problem, runs, ax):
    stops = res.stops[res.stops["run_id"].isin(runs["run_id"])]
    outcomes = rule_outcomes(runs, stops, res._setting("success_tol"), problems_with_minima(runs))
    return F.plot_rule_comparison(outcomes, f"{problem.name}: steps spent against error at the stop", ax)


#: what ``Results.plot`` draws, by kind
KINDS: dict[str, Callable] = {"curve": _curve, "bands": _bands, "ecdf": _ecdf, "heatmap": _heatmap,
                              "basins": _basins, "rules": _rules}


def plot(res: Results, kind: str, problem: str | None = None, method: str | None = None, ax=None, **options):
    """Draw one of the report's figures of ``res`` on ``ax`` (a new figure's if None) and return the ax.

    ``kind``: ``curve`` (the 1-D lesson picture, or 2-D level lines with paths: needs traces),
    ``bands`` (median and 10–90% band of f − f* by step: needs curves), ``ecdf`` (share of (start,
    target) pairs solved by step: needs curves and f*), ``heatmap`` (``value`` over ``rows`` ×
    ``columns`` of one ``criterion`` and method; defaults success_rate over alpha × epsilon),
    ``basins`` (2-D starts colored by the minimum they reach), ``rules`` (steps spent against the
    error at the stop). ``problem`` names one where the results hold several; ``method`` keeps one;
    ``curve`` takes ``xlim``; ``heatmap`` ``rows``, ``columns``, ``value``, and the rule to draw: ``criterion``,
    ``epsilon``, ``min_steps``.
    """
    if kind not in KINDS:
        raise InputError(f"unknown plot kind {kind!r}{did_you_mean(kind, KINDS)}; kinds: {', '.join(KINDS)}")
    if not len(res.runs):
        raise InputError("these results have no runs to plot")
    known = [k for k in inspect.signature(KINDS[kind]).parameters if k not in ("res", "problem", "runs", "ax")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InputError(f"plot({kind!r}) takes no option {', '.join(unknown)}"
                         f"{did_you_mean(unknown[0], known)}; its options: {', '.join(known) or 'none'}")
    prob = _problem(res, problem)
    runs = _runs(res, prob, method)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.4))
    return KINDS[kind](res, prob, runs, ax, **options)
