"""The seed lessons as experiments: each scenario's numbers next to the lesson's, and its picture.

A scenario is an ordinary sweep, ``gdlab/configs/experiment/<name>.yaml``, plus
what the lesson says about it: :data:`SCENARIOS` maps the name to the
question, a ``numbers`` function (Results → a table of quantity, the lesson's
value, gdlab's value, whether they agree) and a ``figure`` function (Results →
a matplotlib Figure). The sweep's report puts both at the top of its page;
``gdlab experiment=lessons`` runs every scenario and builds one page for the
class.
"""

from .._lazy import exports

_NAMES = {
    "build_lessons_page": ".page",
    "lesson_section": ".page",
    "report_sections": ".page",
    "run_lessons": ".run",
    "build_lessons": ".run",
    "LESSONS": ".scenarios",
    "SCENARIOS": ".scenarios",
    "Scenario": ".scenarios",
    "lesson_figure": ".scenarios",
    "lesson_numbers": ".scenarios",
    "unknown_scenarios": ".scenarios",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
