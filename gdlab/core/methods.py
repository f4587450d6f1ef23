"""Update rules as optax gradient transformations, built from named, traced hyperparameters.

Each entry of :data:`METHODS` declares its hyperparameters (:class:`Hyper`:
name, default, allowed range) and builds an ``optax.GradientTransformation``
from the step size ``alpha`` and those values. The kernel calls the builder
inside the compiled step with per-run traced values (one row of its
``(H, L)`` block each: alpha first, then the method's hyperparameters in the
order declared), so a sweep over a hundred alphas or momenta compiles once.

A method that needs more than the gradient says so: ``needs`` names the
keyword arguments its ``update`` takes (``value``, ``grad``, ``value_fn``: the
line searches, polyak, newton), and ``evals(state, x)`` says how many values
and gradients of f one step spent, where that is not one of each (a line
search's trials; newton's Hessian counts as d gradients). A
:class:`~gdlab.core.schedules.Schedule` multiplies the step size: the kernel
runs a :class:`Stepper`, a method with its schedule.

A new method is one ``@method(name, Hyper(...), ...)`` function here (or in
the user's code, before the sweep runs).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .._lazy import lazy_module
from .errors import ConfigError
from .registry import Registry

jax = lazy_module("jax")            # imported when a method is first built: `gdlab list methods` needs none
jnp = lazy_module("jax.numpy")
optax = lazy_module("optax")

__all__ = ["Hyper", "Method", "METHODS", "method", "get_method", "method_names", "sign_halving", "SignHalvingState",
           "ALPHA", "Stepper", "as_stepper", "problem_value", "problem_error", "rate", "newton_direction", "barzilai_borwein", "BBState", "FROM_PROBLEM"]

ALPHA = "alpha"


@dataclasses.dataclass(frozen=True)
class Hyper:
    """A method's hyperparameter: its default and the interval its values must lie in."""

    name: str
    default: float
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    doc: str = ""
    from_problem: str | None = None    # "f_min": left unset, the value is the problem's known minimum f*

    @property
    def range(self) -> str:
        return f"{'[' if self.low_closed else '('}{self.low:g}, {self.high:g}{']' if self.high_closed else ')'}"

    def allows(self, value: float) -> bool:
        return bool(self.fits(np.float64(value)))

    def fits(self, values: np.ndarray) -> np.ndarray:
        """Whether each of ``values`` is finite and in the range (an array of bools)."""
        with np.errstate(invalid="ignore"):
            above = values >= self.low if self.low_closed else values > self.low
            below = values <= self.high if self.high_closed else values < self.high
            return above & below & np.isfinite(values)


ALPHA_HYPER = Hyper(ALPHA, 0.01, 0.0, math.inf, low_closed=False, high_closed=False,
                    doc="the step size (sign_halving: the initial Δx)")


@dataclasses.dataclass(frozen=True)
class Method:
    """A registry entry: ``build(alpha, **hyper)`` gives the transformation; ``hyper`` declares the
    method's hyperparameters beyond alpha, in the order of the kernel's rows."""

    name: str
    build: Callable[..., optax.GradientTransformation] = dataclasses.field(repr=False)
    hyper: tuple[Hyper, ...]
    doc: str
    needs: tuple[str, ...] = ()          # update's keyword arguments: value, grad, value_fn
    evals: Callable | None = dataclasses.field(default=None, repr=False, compare=False)
    takes_schedule: bool = False         # build(alpha, schedule, **hyper) instead of build(rate, **hyper)
    max_dim: int | None = None           # the largest dimension it runs in (newton's d×d Hessians)
    state_size: Callable[[int], int] = dataclasses.field(default=lambda d: 4 * d, repr=False, compare=False)
    source: str = "optax"
    #: what is wrong with one setting's values together (name → value, or → an array of every run's), or
    #: None: bb1's min_step above its max_step
    conflict: Callable[[Mapping[str, float]], str | None] | None = dataclasses.field(default=None, repr=False,
                                                                                       compare=False)

    @property
    def rows(self) -> tuple[str, ...]:
        """The names of the kernel's hyperparameter rows: alpha, then the method's own."""
        return (ALPHA, *(h.name for h in self.hyper))

    def hyperparameter(self, name: str) -> Hyper:
        return ALPHA_HYPER if name == ALPHA else next(h for h in self.hyper if h.name == name)

    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hyper}

    def make(self, row_values, schedule: Callable | None = None) -> optax.GradientTransformation:
        """The transformation for one lane's values of :attr:`rows` (traced inside the kernel), its
        step size multiplied by ``schedule(count)`` where one is given."""
        alpha, *rest = row_values
        hyper = dict(zip((h.name for h in self.hyper), rest))
        if self.takes_schedule:
            return self.build(alpha, schedule, **hyper)
        return self.build(rate(alpha, schedule), **hyper)


def rate(alpha, schedule: Callable | None):
    """alpha, or ``count → alpha·schedule(count)``: what optax takes as a learning rate."""
    return alpha if schedule is None else (lambda count: alpha * schedule(count))


METHODS: Registry[Method] = Registry("method")


def method(name: str, *hyper: Hyper, needs: tuple[str, ...] = (), evals: Callable | None = None,
           takes_schedule: bool = False, max_dim: int | None = None, state_size: Callable | None = None,
           source: str = "optax", conflict: Callable | None = None):
    """Register ``build(alpha, **hyper)`` as the method ``name``; its docstring is the entry's doc.
    ``takes_schedule``: the builder is ``build(alpha, schedule, **hyper)`` (``schedule`` None or
    ``count → factor``), for methods whose step size is not a plain learning rate."""
    def make(build, **_):
        extra = {"state_size": state_size} if state_size else {}
        return Method(name, build, tuple(hyper), (build.__doc__ or "").strip(), needs=tuple(needs), evals=evals,
                      takes_schedule=takes_schedule, max_dim=max_dim, source=source, conflict=conflict, **extra)
    return METHODS.register(make)


@dataclasses.dataclass(frozen=True)
class Stepper:
    """What one kernel runs: a method with its step-size schedule (a
    :class:`~gdlab.core.schedules.Schedule`, or None for the constant step). Its rows are the
    method's (alpha first) and then the schedule's parameters."""

    method: Method
    schedule: Any = None

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def rows(self) -> tuple[str, ...]:
        return self.method.rows + (self.schedule.rows if self.schedule is not None else ())

    @property
    def needs(self) -> tuple[str, ...]:
        return self.method.needs

    def defaults(self) -> dict[str, float]:
        return {**self.method.defaults(), **(self.schedule.defaults() if self.schedule is not None else {})}

    def hyperparameter(self, name: str) -> tuple[str, Hyper]:
        """(whose it is: ``method 'adam'`` or ``schedule 'cosine_decay'``, its Hyper) for one of :attr:`rows`."""
        if name in self.method.rows:
            return f"method {self.method.name!r}", self.method.hyperparameter(name)
        return f"schedule {self.schedule.name!r}", self.schedule.hyperparameter(name)

    def make(self, row_values) -> optax.GradientTransformation:
        n = len(self.method.rows)
        factor = self.schedule.bind(row_values[n:]) if self.schedule is not None else None
        return self.method.make(row_values[:n], factor)

    @property
    def n_evals(self) -> int:
        """The rows of a record's ``spent`` (f and ∇f evaluations): 2 for a method that counts them."""
        return 2 if self.method.evals is not None else 0

    def evals(self, state, x):
        """(values, gradients) of f one step spent, where the method counts them; else None (one each)."""
        return self.method.evals(state, x) if self.method.evals is not None else None


def problem_error(method: Method, hyper: Hyper, problem) -> str | None:
    """Why a hyperparameter that comes from the problem (polyak's f_min: its known minimum f*) has
    no value for ``problem``; None where it has one."""
    if tuple(getattr(problem, hyper.from_problem, ()) or ()):
        return None
    name = getattr(problem, "name", "this problem")
    return (f"{method.name}: {hyper.name} is the problem's known minimum f*, and {name} has none listed; "
            f"give it, e.g. {{name: {method.name}, {hyper.name}: 0.0}}")


def problem_value(method: Method, hyper: Hyper, problem) -> float:
    """The value of a hyperparameter that comes from the problem (polyak's f_min: its known minimum
    f*, the least listed); a ConfigError where the problem knows none."""
    error = problem_error(method, hyper, problem)
    if error:
        raise ConfigError(error)
    return float(min(getattr(problem, hyper.from_problem)))


def as_stepper(method) -> Stepper:
    """A Stepper from a method's name, a Method or a Stepper (a method alone: the constant step)."""
    if isinstance(method, Stepper):
        return method
    return Stepper(get_method(method))


def get_method(name: str | Method) -> Method:
    return name if isinstance(name, Method) else METHODS.get_entry(name)


def method_names() -> list[str]:
    return METHODS.names()


MOMENTUM = Hyper("momentum", 0.9, 0.0, 1.0, high_closed=False, doc="γ, the weight of the last step")


@method("gd")
def _gd(alpha):
    """gradient descent x ← x − α∇f(x) (lessons 000, 001): optax.sgd"""
    return optax.sgd(alpha)


@method("momentum", MOMENTUM)
def _momentum(alpha, momentum):
    """heavy ball x ← x − α∇f(x) + γ(x − x_prev) (lesson 004): optax.sgd with momentum"""
    # optax's trace v ← g + γv, x ← x − αv is the lesson's x ← x − α∇f + γ(x − x_prev), term for term.
    return optax.sgd(alpha, momentum=momentum)


@method("nesterov", MOMENTUM)
def _nesterov(alpha, momentum):
    """Nesterov momentum (optax.sgd with nesterov=True)"""
    return optax.sgd(alpha, momentum=momentum, nesterov=True)


B1 = Hyper("b1", 0.9, 0.0, 1.0, high_closed=False, doc="decay of the first moment (the mean of the gradients)")
B2 = Hyper("b2", 0.999, 0.0, 1.0, high_closed=False, doc="decay of the second moment (the mean of their squares)")


def _eps(default: float) -> Hyper:
    return Hyper("eps", default, 0.0, math.inf, low_closed=False, high_closed=False,
                 doc="added to the denominator, for stability")


def _weight_decay(default: float) -> Hyper:
    return Hyper("weight_decay", default, 0.0, math.inf, high_closed=False, doc="decoupled weight decay")


@method("adam", B1, B2, _eps(1e-8))
def _adam(alpha, b1, b2, eps):
    """Adam (Kingma & Ba 2015): optax.adam"""
    return optax.adam(alpha, b1=b1, b2=b2, eps=eps)


@method("adamw", B1, B2, _eps(1e-8), _weight_decay(1e-4))
def _adamw(alpha, b1, b2, eps, weight_decay):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): optax.adamw"""
    return optax.adamw(alpha, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


@method("nadam", B1, B2, _eps(1e-8))
def _nadam(alpha, b1, b2, eps):
    """Adam with Nesterov momentum (Dozat 2016): optax.nadam"""
    return optax.nadam(alpha, b1=b1, b2=b2, eps=eps)


@method("amsgrad", B1, B2, _eps(1e-8))
def _amsgrad(alpha, b1, b2, eps):
    """Adam with the running maximum of the second moment (Reddi et al. 2018): optax.amsgrad"""
    return optax.amsgrad(alpha, b1=b1, b2=b2, eps=eps)


@method("adabelief", B1, B2, _eps(1e-16))
def _adabelief(alpha, b1, b2, eps):
    """Adam scaled by the belief in the gradient (Zhuang et al. 2020): optax.adabelief"""
    return optax.adabelief(alpha, b1=b1, b2=b2, eps=eps)


@method("rmsprop", Hyper("decay", 0.9, 0.0, 1.0, high_closed=False, doc="decay of the mean square"), _eps(1e-8))
def _rmsprop(alpha, decay, eps):
    """RMSProp (Tieleman & Hinton 2012): optax.rmsprop"""
    return optax.rmsprop(alpha, decay=decay, eps=eps)


@method("adagrad", Hyper("initial_accumulator_value", 0.1, 0.0, math.inf, high_closed=False,
                         doc="the sum of squares it starts from"), _eps(1e-7))
def _adagrad(alpha, initial_accumulator_value, eps):
    """Adagrad (Duchi et al. 2011): optax.adagrad"""
    return optax.adagrad(alpha, initial_accumulator_value=initial_accumulator_value, eps=eps)


@method("adadelta", Hyper("rho", 0.9, 0.0, 1.0, high_closed=False, doc="decay of the running averages"), _eps(1e-6))
def _adadelta(alpha, rho, eps):
    """Adadelta (Zeiler 2012): optax.adadelta"""
    return optax.adadelta(alpha, rho=rho, eps=eps)


@method("lion", Hyper("b1", 0.9, 0.0, 1.0, high_closed=False, doc="interpolation of the update's momentum"),
        Hyper("b2", 0.99, 0.0, 1.0, high_closed=False, doc="decay of the momentum"), _weight_decay(1e-3))
def _lion(alpha, b1, b2, weight_decay):
    """Lion (Chen et al. 2023): optax.lion"""
    return optax.lion(alpha, b1=b1, b2=b2, weight_decay=weight_decay)


@method("sign")
def _sign(alpha):
    """signSGD, x ← x − α·sign(∇f) (Bernstein et al. 2018): optax.sign_sgd"""
    return optax.sign_sgd(alpha)


class SignHalvingState(NamedTuple):
    delta: jax.Array        # each coordinate's current step Δx
    last_sign: jax.Array    # sign of its partial derivative at the previous step (0 before the first)


def sign_halving(initial_step) -> optax.GradientTransformation:
    """The lesson's first algorithm (lesson 000), per coordinate.

    Move each coordinate by its own Δx against the sign of its partial
    derivative; when that sign flips from the previous step, halve its Δx
    first. ``initial_step`` is the starting Δx (the sweep's alpha).
    """

    def init(params):
        return SignHalvingState(delta=jax.tree.map(lambda p: jnp.full_like(p, initial_step), params),
                                last_sign=jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params

        def one(g, delta, last_sign):
            sign = jnp.sign(g)
            delta = jnp.where(sign * last_sign < 0, delta / 2, delta)
            return -delta * sign, delta, jnp.where(sign != 0, sign, last_sign)

        out = jax.tree.map(one, grads, state.delta, state.last_sign)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)   # noqa: E731
        return pick(0), SignHalvingState(pick(1), pick(2))

    return optax.GradientTransformation(init, update)


def _scaled(tx: optax.GradientTransformation, schedule: Callable | None) -> optax.GradientTransformation:
    """``tx``, its updates multiplied by ``schedule(count)`` where a schedule is given."""
    return tx if schedule is None else optax.chain(tx, optax.scale_by_schedule(schedule))


@method("sign_halving", takes_schedule=True, source="gdlab")
def _sign_halving(alpha, schedule):
    """step Δx = alpha against the sign of f′, halved when the sign flips (lesson 000)"""
    return _scaled(sign_halving(alpha), schedule)


FROM_PROBLEM = "f_min"


@method("polyak", Hyper("f_min", math.nan, doc="f*, the minimum the step aims at (default: the problem's known f*)",
                        from_problem=FROM_PROBLEM),
        Hyper("eps", 0.0, 0.0, math.inf, high_closed=False, doc="added to ‖∇f‖² in the step's denominator"),
        needs=("value",), takes_schedule=True)
def _polyak(alpha, schedule, f_min, eps):
    """Polyak step (f − f*)/‖∇f‖², at most alpha (Loizou et al. 2021): optax.polyak_sgd; f* is the
    problem's known minimum unless given, and a problem with none is refused"""
    # the schedule multiplies the step taken (optax's scaling scales the update before the Polyak step is
    # worked out from it, which divides the step by the factor instead)
    return _scaled(optax.polyak_sgd(max_learning_rate=alpha, scaling=1.0, f_min=f_min, eps=eps), schedule)


def _linesearch_evals(state, x):
    """A line search's trials: each evaluates f (backtracking) or f and ∇f (zoom)."""
    return optax.tree.get(state, "num_linesearch_steps")


def _backtracking_evals(state, x):
    return _linesearch_evals(state, x), 1


def _zoom_evals(state, x):
    n = _linesearch_evals(state, x)
    return n, n


@method("lbfgs", needs=("value", "grad", "value_fn"), evals=_zoom_evals,
        state_size=lambda d: 23 * d + 32)
def _lbfgs(alpha):
    """L-BFGS with 10 pairs and the zoom line search (strong Wolfe), trying alpha first (Nocedal &
    Wright 2006, alg. 7.4): optax.lbfgs; n_f and n_grad count the line search's trials"""
    return optax.lbfgs(learning_rate=alpha)


@method("backtracking",
        Hyper("c", 1e-4, 0.0, 1.0, low_closed=False, high_closed=False,
              doc="Armijo's constant: accept f(x + t·d) ≤ f(x) + c·t·∇f·d"),
        Hyper("shrink", 0.5, 0.0, 1.0, low_closed=False, high_closed=False, doc="t ← shrink·t while refused"),
        Hyper("grow", 1.5, 1.0, math.inf, high_closed=False,
              doc="the next step tries grow·t (never above alpha)"),
        needs=("value", "grad", "value_fn"), evals=_backtracking_evals)
def _backtracking(alpha, c, shrink, grow):
    """steepest descent with Armijo backtracking from the step alpha, shrinking it at most 30 times:
    optax.sgd with optax.scale_by_backtracking_linesearch; n_f counts its trials of f"""
    return optax.chain(optax.sgd(alpha),
                       optax.scale_by_backtracking_linesearch(max_backtracking_steps=30, slope_rtol=c,
                                                              decrease_factor=shrink, increase_factor=grow))


class BBState(NamedTuple):
    x_prev: jax.Array     # the point of the last step (unused before the first)
    g_prev: jax.Array     # ∇f there
    count: jax.Array      # steps taken


def barzilai_borwein(alpha, variant: int, min_step, max_step, schedule: Callable | None = None
                     ) -> optax.GradientTransformation:
    """Barzilai–Borwein steps x ← x − t·∇f with s = Δx, y = Δ∇f of the last step: t = s·s/s·y (``variant``
    1) or s·y/y·y (2). The first step, and any where s·y ≤ 0 (no positive curvature along s) or t
    is not finite, take t = alpha; t is clipped to [min_step, max_step]."""

    def init(params):
        return BBState(jnp.zeros_like(params), jnp.zeros_like(params), jnp.zeros((), jnp.int32))

    def update(grads, state, params=None):
        s, y = params - state.x_prev, grads - state.g_prev
        sy, ss, yy = jnp.vdot(s, y), jnp.vdot(s, s), jnp.vdot(y, y)
        bb = ss / sy if variant == 1 else sy / yy
        ok = (state.count > 0) & (sy > 0) & jnp.isfinite(bb)
        t = jnp.where(ok, jnp.clip(bb, min_step, max_step), alpha)
        if schedule is not None:
            t = t * schedule(state.count)
        return -t * grads, BBState(params, grads, state.count + 1)

    return optax.GradientTransformation(init, update)


def _bb_bounds():
    return (Hyper("min_step", 1e-10, 0.0, math.inf, low_closed=False, high_closed=False, doc="the smallest step t"),
            Hyper("max_step", 1e10, 0.0, math.inf, low_closed=False, high_closed=False, doc="the largest step t"))


def _bb_conflict(hyper: Mapping[str, float | np.ndarray]) -> str | None:
    """min_step above max_step, in one setting's values or any run's of arrays of them."""
    low, high = np.broadcast_arrays(np.asarray(hyper["min_step"], np.float64), np.asarray(hyper["max_step"], np.float64))
    bad = np.flatnonzero(low.reshape(-1) > high.reshape(-1))
    if len(bad):
        return (f"min_step {low.reshape(-1)[bad[0]]:g} exceeds max_step {high.reshape(-1)[bad[0]]:g}: the step t is "
                "clipped to [min_step, max_step]; give min_step ≤ max_step")
    return None


@method("bb1", *_bb_bounds(), takes_schedule=True, source="gdlab", conflict=_bb_conflict)
def _bb1(alpha, schedule, min_step, max_step):
    """Barzilai–Borwein, long step t = s·s/s·y (Barzilai & Borwein 1988); alpha is the first step and
    the fallback where s·y ≤ 0"""
    return barzilai_borwein(alpha, 1, min_step, max_step, schedule)


@method("bb2", *_bb_bounds(), takes_schedule=True, source="gdlab", conflict=_bb_conflict)
def _bb2(alpha, schedule, min_step, max_step):
    """Barzilai–Borwein, short step t = s·y/y·y; alpha is the first step and the fallback where s·y ≤ 0"""
    return barzilai_borwein(alpha, 2, min_step, max_step, schedule)


def newton_direction() -> optax.GradientTransformationExtraArgs:
    """The Newton direction H⁻¹∇f, H = ``jax.hessian(value_fn)`` at the point, by a Cholesky
    factorisation; where H is not positive definite (the factorisation fails), ∇f itself."""

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None, *, value_fn, **extra):
        del extra
        h = jax.hessian(value_fn)(params)
        chol = jnp.linalg.cholesky(h)
        step = jax.scipy.linalg.cho_solve((chol, True), grads)
        positive = jnp.all(jnp.isfinite(chol)) & jnp.all(jnp.isfinite(step))
        return jnp.where(positive, step, grads), state

    return optax.GradientTransformationExtraArgs(init, update)


def _newton_evals(state, x):
    return 1, 1 + x.shape[0]


@method("newton", needs=("value_fn",), evals=_newton_evals, max_dim=1000, source="gdlab",
        state_size=lambda d: 3 * d * d + 4 * d)
def _newton(alpha):
    """damped Newton x ← x − α·H⁻¹∇f, H = jax.hessian(f) (lesson 004's Hessian); where H is not
    positive definite it takes the gradient step x ← x − α∇f instead. A Hessian counts as d gradients"""
    return optax.chain(newton_direction(), optax.scale_by_learning_rate(alpha))
