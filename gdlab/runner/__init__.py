"""Sweeps: the config schema, the plan of runs and parts, their execution into memory or a folder."""

from .api import as_problem, descend, inspect_point, sweep
from .execute import run_sweep, run_to_folder
from .experiments import experiment_config, experiment_names
from .plan import expand, make_starts
from .schema import DEFAULTS, Setting, Sweep, SweepConfig, validate

__all__ = ["as_problem", "descend", "inspect_point", "sweep", "run_sweep", "run_to_folder", "experiment_config",
           "experiment_names", "expand", "make_starts", "DEFAULTS", "Setting", "Sweep", "SweepConfig", "validate"]
