"""The core types: problems, expressions, methods, stop criteria, statuses, points and errors.

Nothing here runs a sweep; everything above builds on these. Each kind of
thing is a :class:`~gdlab.core.registry.Registry` of entries with a name and
a one-line doc: :data:`PROBLEMS`, :data:`METHODS`, :data:`CRITERIA`.
"""

from .._lazy import exports

_NAMES = {
    "CRITERIA": ".criteria",
    "Criterion": ".criteria",
    "Status": ".criteria",
    "StepValues": ".criteria",
    "StopRule": ".criteria",
    "checkpoints": ".criteria",
    "criterion": ".criteria",
    "stop_rules": ".criteria",
    "ConfigError": ".errors",
    "ExpressionError": ".errors",
    "FolderError": ".errors",
    "GdlabError": ".errors",
    "InputError": ".errors",
    "ProblemError": ".errors",
    "UnknownNameError": ".errors",
    "METHODS": ".methods",
    "Hyper": ".methods",
    "Method": ".methods",
    "get_method": ".methods",
    "method": ".methods",
    "PointInfo": ".points",
    "classify_points": ".points",
    "point_info": ".points",
    "PROBLEMS": ".problems",
    "Definition": ".problems",
    "Objective": ".problems",
    "Parametric": ".problems",
    "Problem": ".problems",
    "get_problem": ".problems",
    "problem": ".problems",
    "Registry": ".registry",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
