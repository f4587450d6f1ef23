"""The seed lessons as experiments: each scenario's numbers next to the lesson's, and its picture.

A scenario is an ordinary sweep, ``gdlab/configs/experiment/<name>.yaml``, plus
what the lesson says about it: :data:`SCENARIOS` maps the name to the
question, a ``numbers`` function (Results → a table of quantity, the lesson's
value, gdlab's value, whether they agree) and a ``figure`` function (Results →
a matplotlib Figure). The sweep's report puts both at the top of its page;
``gdlab experiment=lessons`` runs every scenario and builds one page for the
class.
"""

from .page import build_lessons_page, lesson_section, report_sections
from .run import run_lessons
from .scenarios import LESSONS, SCENARIOS, Scenario, lesson_figure, lesson_numbers, unknown_scenarios

__all__ = ["build_lessons_page", "lesson_section", "report_sections", "run_lessons", "LESSONS", "SCENARIOS",
           "Scenario", "lesson_figure", "lesson_numbers", "unknown_scenarios"]
