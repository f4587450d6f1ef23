"""A sweep's bbob runs in COCO's data format (``gdlab export coco``), for COCO's ``cocopp``.

One COCO "algorithm" folder per setting (method and hyperparameters: ``gd_alpha0.1``), as COCO's
observer writes it (logger ``bbob``, data format ``bbob-new2``): ``bbobexp_f{f}.info`` per function,
a block a dimension listing each trial as ``instance:evaluations|final f − f_opt``, and
``data_f{f}/bbobexp_f{f}_DIM{d}.dat`` and ``.tdat``, a block per trial (run) of lines
``evaluations 0 best(f − f_opt) f best(f)``. A run is a trial of its problem's instance (a sweep of
several starts repeats the instance). Lines are written at the run's checkpoint steps (k = 0, 1, 2,
3, 4, 6, 8, 11, …, its last), so COCO reads runtimes at checkpoint resolution; evaluations are
``n_f + grad_cost·n_grad`` (``report.grad_cost`` of the sweep) by that step
(:func:`gdlab.tables.stats.evaluations_at`), rounded to whole evaluations, with a first line at one
evaluation (f at the start, before its gradient): the report's runtimes
(:func:`gdlab.tables.stats.evaluations_to_reach`) are the ones cocopp reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..runner.schema import merge
from ..storage.load import load
from ..tables.stats import evaluations_at, grad_cost_of
from .suites import setting_label, suite_f_min

__all__ = ["export_coco", "BBOB_NAME"]

BBOB_NAME = re.compile(r"^bbob-f(\d+)-i(\d+)-d(\d+)$")
COCO_HEADER = ("% f evaluations | g evaluations | best noise-free fitness - Fopt ({fopt:.12e}) + sum g_i+ | "
               "measured fitness | best measured fitness or single-digit g-values | x1 | x2...")


def _folder_name(method: str, setting: str) -> str:
    text = method + ("_" + setting if setting else "")
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text.replace("=", "")).strip("_")


def export_coco(folder: Path | str, out: Path | str, log=print) -> list[Path]:
    """Write the sweep's bbob runs under ``out`` in COCO's format, a folder per setting; return them."""
    res = load(folder, tables=("runs", "curves"))
    cfg = merge(res.config)
    runs = res.runs
    parsed = runs["problem"].str.extract(BBOB_NAME)
    bbob = parsed.notna().all(axis=1)
    if not bbob.any():
        raise InputError(f"the sweep in {folder} has no bbob runs (problems named bbob-f…-i…-d…, from "
                         "{suite: bbob, …}); COCO's format is for bbob")
    if res.curves.empty:
        raise InputError(f"the sweep in {folder} kept no curves (curves: false): COCO's files need f along each "
                         "run; run it with curves: true")
    skipped = sorted(set(runs.loc[~bbob, "problem"]))
    runs = runs[bbob].assign(function=parsed.loc[bbob, 0].astype(int).to_numpy(),
                             instance=parsed.loc[bbob, 1].astype(int).to_numpy(),
                             setting=setting_label(runs[bbob]).to_numpy())
    cost = grad_cost_of(cfg["report"]["grad_cost"], runs["dim"].to_numpy())
    # each problem's own f* (bbob's f_opt): a run that ended nan or inf has no f_final − f_gap to give it
    f_opt = {name: v[0] for name, v in suite_f_min(res.config).items() if len(v) == 1}
    runs = runs.assign(total=runs["n_f"].to_numpy(np.float64) + cost * runs["n_grad"].to_numpy(np.float64),
                       start=1.0 + cost, f_opt=runs["problem"].map(f_opt).to_numpy(np.float64))
    curves = res.curves[res.curves["run_id"].isin(runs["run_id"])].sort_values(["run_id", "step"])
    by_run = dict(tuple(curves.groupby("run_id", sort=False)))
    out = Path(out)
    written = []
    for (method, setting), algo in runs.groupby(["method", "setting"], sort=True):
        alg_id = f"{method} {setting}".strip()
        root = out / _folder_name(method, setting)
        (root).mkdir(parents=True, exist_ok=True)
        for function, of_f in algo.groupby("function", sort=True):
            (root / f"data_f{function}").mkdir(exist_ok=True)
            info = []
            for dim, block in of_f.groupby("dim", sort=True):
                data = f"data_f{function}/bbobexp_f{function}_DIM{dim}"
                lines, trials = [], []
                for run in block.sort_values(["instance", "run_id"]).itertuples(index=False):
                    rows, final = _trial_lines(run, by_run.get(run.run_id))
                    lines += rows
                    trials.append(f"{run.instance}:{int(round(run.total))}|{final:.1e}")
                text = "\n".join(lines) + "\n"
                (root / f"{data}.dat").write_text(text)
                (root / f"{data}.tdat").write_text(text)
                if info:
                    info.append("")
                info += [f"suite = 'bbob', funcId = {function}, DIM = {dim}, Precision = 1.000e-08, algId = "
                         f"'{alg_id}', coco_version = '2.8.2', logger = 'bbob', data_format = 'bbob-new2', "
                         "settings = ''",
                         f"% gdlab export: evaluations n_f + grad_cost·n_grad (grad_cost = "
                         f"{cfg['report']['grad_cost']}) at the checkpoint steps",
                         f"{data}.dat, " + ", ".join(trials)]
            (root / f"bbobexp_f{function}.info").write_text("\n".join(info))
        written.append(root)
        log(f"coco: {root} ({len(algo):,} runs of {algo['problem'].nunique()} problems)")
    if skipped:
        log(f"coco: left out {len(skipped)} problems that are not bbob's: {', '.join(skipped[:5])}"
            f"{' …' if len(skipped) > 5 else ''}")
    return written


def _trial_lines(run, curve: pd.DataFrame | None) -> tuple[list[str], float]:
    """The .dat/.tdat block of one run and its final best f − f_opt."""
    if curve is None or curve.empty:
        step, f = np.array([run.n_iter]), np.array([run.f_final])
    else:
        step, f = curve["step"].to_numpy(), curve["f"].to_numpy(np.float64)
    f = np.where(np.isfinite(f), f, np.inf)
    best_f = np.minimum.accumulate(f)
    evals = np.maximum(1, np.rint(evaluations_at(step, run.total, run.n_iter, run.start))).astype(np.int64)
    if run.start > 1:       # f at the start is known after one evaluation, its gradient after 1 + grad_cost
        step, evals, f, best_f = (np.r_[a[:1], a] for a in (step, evals, f, best_f))
        evals[0] = 1
    gap = best_f - run.f_opt
    lines = [COCO_HEADER.format(fopt=run.f_opt)]
    lines += [f"{e} 0 {g:+.9e} {v:+.9e} {b:+.9e}" for e, g, v, b in zip(evals, gap, f, best_f)]
    return lines, float(gap[-1])
