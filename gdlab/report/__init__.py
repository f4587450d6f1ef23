"""The report of a sweep folder: statistics' tables, figures (PNG + SVG) and one HTML page.

The package is callable: ``gdlab.report(results_or_folder)`` writes the report of a sweep folder, or
of in-memory :class:`~gdlab.tables.results.Results` (saved as a sweep folder first), and returns the
path of its ``index.html``.
"""

import sys
import types
from pathlib import Path

from .._lazy import exports

_NAMES = {
    "build": ".page",
    "plot": ".plots",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = [*_NAMES, "report"]


def report(what, path=None, log=print) -> Path:
    """The report of ``what``: a sweep folder (a path), or Results (saved first, to ``path`` or where
    the command would have put them, unless they came from a folder). Returns index.html's path."""
    from ..tables.results import Results
    from .page import build
    if isinstance(what, Results):
        folder = what.path if what.path is not None and path is None else what.save(path, report=False, log=log)
    else:
        folder = Path(what)
    return build(folder, log=log, show_progress=False)


class _CallableModule(types.ModuleType):
    """``gdlab.report(…)`` calls :func:`report`; ``gdlab.report.build`` and the modules stay as they are."""

    def __call__(self, what, path=None, log=print) -> Path:
        return report(what, path, log)


sys.modules[__name__].__class__ = _CallableModule
