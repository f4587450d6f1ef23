"""One step of every lane: judge the current point, move the lanes still running, evaluate f and ∇f.

Layout: lanes are the last axis of every array (x is ``(d, L)``), so each
coordinate is a contiguous row and the whole step is elementwise across
lanes, which is what XLA vectorises. A problem written coordinate-first
(``Problem.vectorized``) is evaluated on the ``(d, L)`` block directly, and
its gradient comes from one vector-Jacobian product; others are vmapped.

One step judges the lane's current point (every stop rule, finiteness,
divergence, max_iter) from values already in the carry, then moves the
lanes still running and evaluates f and ∇f at the new point into the carry.
Nothing computed in a step is consumed twice within it, so XLA never
recomputes f or ∇f to feed a second fusion. A finished lane keeps its point
(its f and ∇f are recomputed at the same point, to the same bits) until it
is harvested. Lanes are loaded only at chunk boundaries, with f and ∇f of
their start evaluated at loading.

The stop rules' criteria are functions of the judged step's values
(:class:`~gdlab.core.criteria.StepValues`); the step evaluates the criteria of
its spec only, and keeps the point before only where one of them uses it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ..core import lanes as lanes_
from ..core.criteria import Status, StepValues
from ..core.problems import column_value_and_grad
from .layout import KernelSpec, buffered_rows, curve_steps, fills_at_on_host, float_dtype

__all__ = ["Lanes", "where", "lane_fns"]


class Lanes(NamedTuple):
    """The kernel's state; every array has the lanes as its last axis."""

    run: Any        # (L,) int32: the run's number in the stream; -1 = empty lane
    x: Any          # (d, L): the current point, k updates from the start
    f: Any          # (L,): f(x)
    g: Any          # (d, L): ∇f(x)
    x_before: Any   # (d, L): the point before (x itself at the start); (0, L) where no criterion keeps it
    measured: Any   # (M, L): the criteria measured as the step was taken (‖Δx‖), for the step's judging
    f_before: Any   # (L,): f at the point before (f itself at the start): |Δf| is taken from it when judged
    opt: Any        # optax state, lanes last
    k: Any          # (L,) int32: updates done
    status: Any     # (L,) int32 (Status)
    fired: Any      # (R, L) int32: first step each rule fired, -1 if not yet
    f_at: Any       # (R, L); (0, L) with one rule, where the host fills them in (fills_at_on_host)
    x_at: Any       # (R, d, L); (0, d, L) likewise
    hp: Any         # (H, L): the method's hyperparameters, alpha first, then its schedule's (Stepper.rows)
    spent: Any      # (2, L) int32: f and ∇f evaluations of the run, for a method that counts its own
                    # (Method.evals); (0, L) for the others, which spend one of each a step
    curve_f: Any    # (C, L): f at the checkpoint steps
    curve_g: Any    # (C, L): ‖∇f‖ at the checkpoint steps
    scratch: Any    # the chunk buffer: of each judged step, the rows the recorder reads (:func:`buffered_rows`):
                    # x (K, d, L), f (K, L), ‖∇f‖ (K, L); carried from call to call so it is not allocated
                    # anew (every row is written before it is read)


def where(cond, new, old):
    """Per-lane select over whole pytrees; ``cond`` is (L,) and broadcast over leading axes."""
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), new, old)


def _value_and_grad(objective):
    """(x (d, L), params) → (f (L,), ∇f (d, L)): one vector-Jacobian product for a coordinate-first
    problem (each lane's value depends on its own column only), a vmap over lanes otherwise.
    ``params`` are the problem's numbers where its objective is parametric (a kernel input), else ()."""
    if objective.vectorized:
        return lambda x, params: column_value_and_grad(objective.bind(params))(x)
    return lambda x, params: jax.vmap(jax.value_and_grad(objective.bind(params)), in_axes=-1, out_axes=(0, -1))(x)


def lane_fns(spec: KernelSpec):
    """The lane functions of one kernel spec, all on whole (…, L) blocks.

    ``load(lanes, take, run, x0, hp, params)`` puts new runs into the lanes where ``take``
    and evaluates f and ∇f at their starts; ``step(lanes, rules, bounds, params)`` judges
    and advances every lane once, returning the judged (x, f, ‖∇f‖) for the
    chunk buffer. ``params``: the problem's (a parametric objective's), else ().
    """
    stepper = spec.method
    make = stepper.make
    H = len(stepper.rows)
    E = 2 if stepper.method.evals is not None else 0
    dt = float_dtype(spec.dtype)
    d, R, L, K = spec.objective.dim, spec.n_rules, spec.lanes, spec.chunk
    C = len(curve_steps(spec.max_iter, spec.curves))
    R_at = 0 if fills_at_on_host(R) else R       # the rules whose f_at and x_at the lanes keep
    criteria = list(spec.criteria)
    # ‖Δx‖-like criteria are measured as the step is taken, while both points are at hand, and carried
    # (a row a lane); the others are judged from the carry, which keeps the point before only for them
    moved = [c for c in criteria if c.at_the_move]
    keep_before = any(c.keeps_x_before for c in criteria)
    value_and_grad = _value_and_grad(spec.objective)

    def vg(x, params):      # in the kernel's dtype, as the lanes hold them (a problem may return another)
        f, g = value_and_grad(x, params)
        return f.astype(dt), g.astype(dt)
    # each lane's hyperparameters are its column of hp (H, L), in the method's row order
    # a state's numbers strongly typed (optax's line searches start a count as a weakly typed 0, which
    # their update returns strongly typed: the kernel would compile twice, for the lanes before and after)
    v_init = jax.vmap(lambda x, hp: jax.tree.map(lambda a: jax.lax.convert_element_type(a, a.dtype), make(hp).init(x)),
                      in_axes=-1, out_axes=-1)
    # the keyword arguments a line search, polyak or newton takes: f and ∇f at the point, and f itself
    # on one lane's point (d,), as every problem's function takes it
    needs = stepper.needs

    def update_one(g, o, x, hp, f, fn):
        extra = {"value": f, "grad": g, "value_fn": fn}
        tx = make(hp)
        new = tx.update(g, o, x, **{k: extra[k] for k in needs})
        if E:
            nf, ng = stepper.evals(new[1], x)
            return new, jnp.stack([jnp.asarray(nf, jnp.int32), jnp.asarray(ng, jnp.int32)])
        return new, jnp.zeros((0,), jnp.int32)

    def v_update(g, o, x, hp, f, params):
        fn = spec.objective.bind(params)
        return jax.vmap(lambda *a: update_one(*a, fn), in_axes=(-1, -1, -1, -1, 0), out_axes=-1)(g, o, x, hp, f)

    def empty():
        # no run yet: f and ∇f are placeholders (load evaluates them), so empty lanes need no params
        x = jnp.zeros((d, L), dt)
        hp = jnp.ones((H, L), dt)
        f, g = jnp.zeros((L,), dt), jnp.zeros((d, L), dt)
        return Lanes(run=jnp.full((L,), -1, jnp.int32), x=x, f=f, g=g,
                     x_before=x if keep_before else jnp.zeros((0, L), dt),
                     measured=jnp.zeros((len(moved), L), dt), f_before=f,
                     opt=v_init(x, hp), spent=jnp.ones((E, L), jnp.int32), k=jnp.zeros((L,), jnp.int32),
                     status=jnp.full((L,), int(Status.running), jnp.int32), fired=jnp.full((R, L), -1, jnp.int32),
                     f_at=jnp.full((R_at, L), jnp.nan, dt), x_at=jnp.full((R_at, d, L), jnp.nan, dt), hp=hp,
                     curve_f=jnp.full((C, L), jnp.nan, dt), curve_g=jnp.full((C, L), jnp.nan, dt),
                     scratch=tuple(jnp.zeros((K, d, L) if name == "x" else (K, L), dt)
                                   for name in buffered_rows(R, spec.curves)))

    def load(lanes: Lanes, take, run, x0, hp, params) -> Lanes:
        x = jnp.where(take, x0.astype(dt), lanes.x)
        hp = jnp.where(take, hp.astype(dt), lanes.hp)
        f, g = vg(x, params)
        f = jnp.where(take, f, lanes.f)
        g = jnp.where(take, g, lanes.g)
        opt = where(take, v_init(x, hp), lanes.opt)
        # f_at, x_at and the curves keep the lane's last run's values: the recorder overwrites every
        # entry the new run reaches, and the packing blanks the others (fired < 0, checkpoint > k)
        x_before = jnp.where(take, x, lanes.x_before) if keep_before else lanes.x_before
        return lanes._replace(run=jnp.where(take, run, lanes.run), x=x, f=f, g=g, x_before=x_before,
                              measured=jnp.where(take, 0, lanes.measured),
                              f_before=jnp.where(take, f, lanes.f_before), opt=opt, k=jnp.where(take, 0, lanes.k),
                              spent=jnp.where(take, 1, lanes.spent),
                              status=jnp.where(take, Status.running, lanes.status),
                              fired=jnp.where(take, -1, lanes.fired), hp=hp)

    def step(lanes: Lanes, rules, bounds, params):
        crit, eps, min_steps = (r[:, None] for r in rules)
        x_bound, f_bound = bounds
        x, f, g, k = lanes.x, lanes.f, lanes.g, lanes.k
        live = (lanes.run >= 0) & (lanes.status == Status.running)
        # judge step k from the carry
        gnorm = lanes_.norm(g)
        finite = jnp.isfinite(f) & lanes_.finite(g) & lanes_.finite(x)
        # each rule's criterion, from the carry: the step's new f and x then have one reader each (the
        # carry), so XLA computes them once (a second reader of the new f had it recompute f, a third
        # of a Rastrigin 10-D step). The kernel is compiled for the criteria its rules use, and
        # computes no other (‖Δx‖ alone is about 5% of a step); a rule's code is its criterion's place.
        seen = StepValues(x, lanes.x_before if keep_before else None, f, lanes.f_before, g, k)
        value = None
        for code, entry in enumerate(criteria):
            q = lanes.measured[moved.index(entry)] if entry.at_the_move else entry.value(seen)
            value = q if value is None else jnp.where(crit == code, q, value)
        value = jnp.broadcast_to(jnp.zeros_like(f) if value is None else value, crit.shape[:1] + f.shape)
        # A comparison with nan is false, and a nonfinite step is refused outright:
        # a fault never counts as a fired rule. At the start only the criteria defined there may fire.
        defined = k > 0
        for code, entry in enumerate(criteria):
            if entry.at_start:
                defined = defined | (crit == code)
        allowed = (k >= min_steps) & finite & defined
        if R == 1:
            # the run stops where its only rule fires: `fired` is written by the recorder (buffers_x)
            fired, all_fired = lanes.fired, allowed[0] & (value[0] < eps[0])
        else:
            fired = jnp.where(live & allowed & (lanes.fired < 0) & (value < eps), k, lanes.fired)
            all_fired = lanes_.all_rows(fired >= 0) if R else jnp.zeros_like(live)
        escaped = lanes_.max_abs(x) > x_bound
        diverged = escaped | (jnp.abs(f) > f_bound)
        # the last that holds, in this order (a chain of selects: jnp.select would lower to a reduce); x
        # thrown past the bound diverged even where f or ∇f overflowed there (float32's x⁴ at x = 10¹⁰)
        status = jnp.where(k >= spec.max_iter, Status.max_iter, Status.running)
        for cond, code in ((diverged, Status.diverged), (all_fired, Status.converged), (~finite, Status.nonfinite),
                           (escaped, Status.diverged), (~finite & (k == 0), Status.invalid_start)):
            status = jnp.where(cond, code, status)
        status = jnp.where(live, status, lanes.status).astype(jnp.int32)
        go = live & (status == Status.running)
        # move the lanes still running; evaluate f and ∇f at the new point
        (updates, opt_next), spent = v_update(g, lanes.opt, x, lanes.hp, f, params)
        x_new = jnp.where(go, x + updates.astype(dt), x)
        spent = lanes.spent + jnp.where(go, spent, 0) if E else lanes.spent
        opt = where(go, opt_next, lanes.opt)
        f_new, g_new = vg(x_new, params)
        # the criteria measured as the step is taken, from both points while both are at hand
        taken = StepValues(x_new, x, None, None, None, k + go.astype(jnp.int32))
        measured = jnp.stack([c.value(taken) for c in moved]) if moved else lanes.measured
        lanes = lanes._replace(x=x_new, f=f_new, g=g_new, x_before=x if keep_before else lanes.x_before,
                               measured=measured,
                               f_before=f, opt=opt, spent=spent, k=k + go.astype(jnp.int32),
                               status=status, fired=fired)
        return lanes, (x, f, gnorm)

    return empty, load, step
