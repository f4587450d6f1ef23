"""Engine records → tidy tables (runs, stops, curves, traces), their statistics, and Results."""

from .build import curves_table, nearest_minimum, runs_table, stops_table, traces_table
from .columns import in_order, list_column, points, string_column
from .results import Results

__all__ = ["curves_table", "nearest_minimum", "runs_table", "stops_table", "traces_table", "in_order", "list_column",
           "points", "string_column", "Results"]
