"""Standard problem suites as problem sources: COCO's bbob and CUTEst (through sif2jax).

A config's problem entry ``{suite: bbob, functions: [1, 8], instances: [1, 2], dims: [2, 5]}``
or ``{suite: cutest, names: [ROSENBR, BEALE]}`` stands for several problems;
:func:`suite_problems` makes them. bbob is gdlab's own JAX code (:mod:`.bbob`), equal to COCO's;
cutest needs the ``suites`` extra (sif2jax). Each problem carries the suite's start point
(``Problem.start``: COCO's origin, CUTEst's ``y0``) for ``starts: {kind: suite}``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from ..errors import ProblemError
from ..inputs import float_array
from ..names import did_you_mean
from ..precision import x64
from ..problems import MAX_DIM, Parametric, Problem
from . import bbob, cutest

__all__ = ["SUITES", "EXTRA", "is_suite", "suite_problems"]

SUITES = ("bbob", "cutest")
EXTRA = "pip install 'gdlab[suites]'"
BBOB_DEFAULTS = {"functions": list(bbob.FUNCTIONS), "instances": [1, 2, 3, 4, 5], "dims": [2, 3, 5, 10, 20, 40]}


def is_suite(entry) -> bool:
    """Whether a config's problem entry names a suite."""
    return isinstance(entry, Mapping) and "suite" in entry


def suite_problems(entry: Mapping) -> list[Problem]:
    """The problems of a suite entry, in the order of its lists (functions, instances, dims for bbob)."""
    name = entry.get("suite")
    if name not in SUITES:
        raise ProblemError(f"suite: must be one of {', '.join(SUITES)}, got {name!r}{did_you_mean(name, SUITES)}")
    return _bbob(entry) if name == "bbob" else _cutest(entry)


def _whole_numbers(entry: Mapping, key: str, low: int, high: int, default) -> list[int]:
    value = entry.get(key, default)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not low <= v <= high]
    if not values or bad:
        raise ProblemError(f"suite {entry['suite']}: {key} must be whole numbers in [{low}, {high}], "
                           f"got {bad[0] if bad else value!r}")
    if len(set(values)) != len(values):
        raise ProblemError(f"suite {entry['suite']}: {key} lists a value twice ({value}); list each once")
    return [int(v) for v in values]


def _unknown_keys(entry: Mapping, allowed: tuple[str, ...]):
    unknown = sorted(set(entry) - set(allowed), key=str)
    if unknown:
        raise ProblemError(f"suite {entry['suite']}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], allowed)} "
                           f"(allowed: {', '.join(allowed)})")


def _bbob(entry: Mapping) -> list[Problem]:
    _unknown_keys(entry, ("suite", "functions", "instances", "dims"))
    functions = _whole_numbers(entry, "functions", 1, 24, BBOB_DEFAULTS["functions"])
    instances = _whole_numbers(entry, "instances", 1, 10 ** 6, BBOB_DEFAULTS["instances"])
    dims = _whole_numbers(entry, "dims", *bbob.DIMS, BBOB_DEFAULTS["dims"])
    family = tuple(functions)
    return [bbob_problem(f, i, d, family) for f in functions for i in instances for d in dims]


def bbob_problem(function: int, inst: int, d: int, family: tuple[int, ...] | None = None) -> Problem:
    """bbob's function ``function``, instance ``inst``, in ``d`` dimensions, as a gdlab problem
    named ``bbob-f{function}-i{inst}-d{d}``. Weierstrass (f16) has more than one global minimiser,
    so only its f* is given; the others give COCO's x_opt as their minimum.

    The problem is a member of the family of ``family``'s functions (default: its own) in ``d``
    dimensions (:func:`bbob.family`): the instance's numbers are kernel inputs, so the problems of
    one suite entry and dimension compile one kernel a method, whatever their number."""
    family = (function,) if family is None else tuple(family)
    b = bbob.instance(function, inst, d)
    minima = () if function == 16 else (b.x_opt,)
    shared = Parametric(key=("bbob", d, family), fn=bbob.family(family, d),
                        params={**b.params, "which": np.int32(family.index(function))},
                        member=(("bbob", d, function), bbob.formula(function, d)))
    return Problem(name=f"bbob-f{function}-i{inst}-d{d}", fn=b.fn, dim=d, domain=((-5.0, 5.0),) * d,
                   minima=minima, f_min=(b.f_opt,), smooth_minima=function not in bbob.NOT_SMOOTH,
                   doc=f"COCO bbob f{function} ({bbob.FUNCTION_NAMES[function]}), instance {inst}, {d}-D",
                   vectorized=True, key=("bbob", function, inst, d), start=(0.0,) * d, parametric=shared)


def _cutest(entry: Mapping) -> list[Problem]:
    _unknown_keys(entry, ("suite", "names"))
    names = entry.get("names")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise ProblemError(f"suite cutest: names must be a non-empty list of CUTEst problem names, got {names!r}")
    if len(set(names)) != len(names):
        raise ProblemError(f"suite cutest: names lists a problem twice ({list(names)}); list each once")
    try:
        known = cutest.names()
    except ModuleNotFoundError as exc:
        raise ProblemError(f"suite cutest needs sif2jax, which is not installed ({exc}): {EXTRA}") from exc
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ProblemError(f"suite cutest: {unknown[0]!r} is not one of sif2jax's unconstrained problems"
                           f"{did_you_mean(unknown[0], known)} (gdlab takes the unconstrained ones; "
                           f"{len(known)} of them, e.g. {', '.join(sorted(known)[:5])} …)")
    return [cutest_problem(n) for n in names]


@functools.lru_cache(maxsize=256)
def cutest_problem(name: str) -> Problem:
    """CUTEst's problem ``name`` (sif2jax's unconstrained problem, at its default size). Its f* is
    the value sif2jax lists, where it lists one (no minimiser is given: a listed value may be above
    the true optimum); its start is the problem's y0, and its domain, which frames random starts
    and figures, the box y0 ± max(1, |y0|)."""
    prob = cutest.load(name)
    with x64(True):     # y0 and f* as sif2jax writes them, not rounded to float32
        y0 = float_array(prob.y0, f"CUTEst problem {name}: its start y0 must be an array", ProblemError)
        listed = prob.expected_objective_value
        listed = None if listed is None else float(np.asarray(listed))
    if y0.ndim != 1 or not 1 <= y0.size <= MAX_DIM:
        raise ProblemError(f"CUTEst problem {name}: gdlab takes problems of 1 to {MAX_DIM:,} variables "
                           f"in one array, got y0 of shape {y0.shape}")
    args = prob.args
    objective = prob.objective

    def fn(x):
        return jnp.reshape(objective(x, args), ())

    f_min = () if listed is None else (listed,)
    half = np.maximum(1.0, np.abs(y0))
    doc = (type(prob).__doc__ or "").strip().splitlines()
    return Problem(name=name, fn=fn, dim=int(y0.size), domain=tuple(zip((y0 - half).tolist(), (y0 + half).tolist())),
                   f_min=f_min, doc=f"CUTEst {name} (sif2jax){': ' + doc[0].strip() if doc else ''}",
                   key=("cutest", name, int(y0.size)), start=tuple(y0.tolist()))
