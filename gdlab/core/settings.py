"""Settings the report's statistics read, with their defaults (the sweep's keys of the same names), and
the engine's limits on a run's steps and on a fixed chunk, which the config's keys and the engine's own
API both check."""

from __future__ import annotations

__all__ = ["REPORT_DEFAULTS", "MAX_STEP", "MAX_CHUNK", "MAX_NAME", "STATIONARY_TOL"]

#: a run succeeded if it ended within success_tol of a known minimum; f_target: the report's f − f* target
REPORT_DEFAULTS = {"success_tol": 1.0e-3, "f_target": 1.0e-6}

#: steps are counted in int32 in the kernel: max_iter and min_steps stay below this
MAX_STEP = 2 ** 31 - 2

#: a fixed chunk (steps between refills) at most: the kernel's loop runs a chunk's steps whether or not
#: its lanes have finished, and a refill every 65,536 steps costs nothing
MAX_CHUNK = 1 << 16

#: a run's end is non_stationary where the Newton step ‖H⁺∇f‖ exceeds this (the sweep's point_type and
#: classify_points; inspect_point and ``gdlab point``, which ask whether ∇f is zero at one point, use 1e-6)
STATIONARY_TOL = 0.05

#: a name at most (an experiment's, a problem's): it names folders and files, of 255 bytes at most, and a
#: letter may take 4
MAX_NAME = 100
