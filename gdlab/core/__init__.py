"""The core types: problems, expressions, methods, stop criteria, statuses, points and errors.

Nothing here runs a sweep; everything above builds on these. Each kind of
thing is a :class:`~gdlab.core.registry.Registry` of entries with a name and
a one-line doc: :data:`PROBLEMS`, :data:`METHODS`, :data:`CRITERIA`.
"""

from .criteria import CRITERIA, Criterion, Status, StepValues, StopRule, checkpoints, criterion, stop_rules
from .errors import ConfigError, ExpressionError, FolderError, GdlabError, InputError, ProblemError, UnknownNameError
from .methods import METHODS, Hyper, Method, get_method, method
from .points import PointInfo, classify_points, point_info
from .problems import PROBLEMS, Definition, Objective, Problem, get_problem, problem
from .registry import Registry

__all__ = ["CRITERIA", "Criterion", "Status", "StepValues", "StopRule", "checkpoints", "criterion", "stop_rules",
           "ConfigError", "ExpressionError", "FolderError", "GdlabError", "InputError", "ProblemError",
           "UnknownNameError", "METHODS", "Hyper", "Method", "get_method", "method", "PointInfo", "classify_points",
           "point_info", "PROBLEMS", "Definition", "Objective", "Problem", "get_problem", "problem", "Registry"]
