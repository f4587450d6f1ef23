"""Sweeps: the config schema, the plan of runs and parts, their execution into memory or a folder."""

from .._lazy import exports

_NAMES = {
    "as_problem": ".api",
    "descend": ".sweeps",
    "inspect_point": ".api",
    "sweep": ".sweeps",
    "run_sweep": ".execute",
    "run_to_folder": ".execute",
    "experiment_config": ".experiments",
    "experiment_names": ".experiments",
    "expand": ".plan",
    "make_starts": ".plan",
    "DEFAULTS": ".schema",
    "Setting": ".schema",
    "Sweep": ".schema",
    "SweepConfig": ".schema",
    "validate": ".schema",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
