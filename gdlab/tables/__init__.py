"""Engine records → tidy tables (runs, stops, curves, traces), their statistics, and Results."""

from .._lazy import exports

_NAMES = {
    "curves_table": ".build",
    "nearest_minimum": ".build",
    "runs_table": ".build",
    "stops_table": ".build",
    "traces_table": ".build",
    "in_order": ".columns",
    "list_column": ".columns",
    "points": ".columns",
    "string_column": ".columns",
    "Results": ".results",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
