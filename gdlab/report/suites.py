"""The report's section for suite problems (bbob, CUTEst): what a benchmarker reads first.

:func:`suite_section` is one of the page's sections (``gdlab.report.page.build``): it reads the
sweep's runs part by part and names the problems where a run ended below the f* the problem lists
(a suite's listed optimum that is not the optimum): those runs count as successes, and the page
says so ("below the listed f*: …").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..storage.folder import SweepFolder
from ..tables.stats import below_listed_f_star
from .render import FigureWriter

__all__ = ["suite_section", "below_listed_lines"]


def below_listed_lines(below: pd.DataFrame) -> list[str]:
    """One line per problem of :func:`~gdlab.tables.stats.below_listed_f_star`."""
    return [f"below the listed f*: {row.problem} ended at {row.best_f:.6g} ({row.runs_below:,} run"
            f"{'s' if row.runs_below != 1 else ''}), under its listed f* {row.f_star:.6g}; counted as successes "
            "(the listed value is not the optimum)" for row in below.itertuples(index=False)]


def suite_section(folder: Path, out: Path, warnings: list, writer: FigureWriter):
    """Adds a warning per problem with runs below its listed f*; nothing of its own to the page yet."""
    sf = SweepFolder(folder)
    records = sf.records()
    parts = [below_listed_f_star(runs) for runs in sf.read_parts("runs", records,
                                                                  columns=["problem", "f_final", "f_gap"])]
    parts = [p for p in parts if len(p)]
    if parts:
        below = (pd.concat(parts).groupby("problem", sort=True)
                 .agg(f_star=("f_star", "first"), best_f=("best_f", "min"), runs_below=("runs_below", "sum"))
                 .reset_index())
        warnings.extend(below_listed_lines(below))
    return None
