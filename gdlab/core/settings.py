"""Settings the report's statistics read, with their defaults (the sweep's keys of the same names)."""

from __future__ import annotations

__all__ = ["REPORT_DEFAULTS"]

#: a run succeeded if it ended within success_tol of a known minimum; f_target: the report's f − f* target
REPORT_DEFAULTS = {"success_tol": 1.0e-3, "f_target": 1.0e-6}
