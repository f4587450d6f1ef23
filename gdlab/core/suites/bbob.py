"""COCO's bbob suite: the 24 noiseless functions and their instances, in JAX, equal to COCO's own.

Each instance's data (the shift x_opt, the offset f_opt, the rotations, Gallagher's peaks) is made
as COCO's C code makes it (``suite_bbob_legacy_code.c``: the same uniform generator, Gaussian
draws, Gram–Schmidt rotations, seeds ``function + 10000·instance``), in float64 with Python's
``math`` (the C library's functions, so the numbers are COCO's to the last bit or two); the
functions follow COCO's ``f_*.c`` with their transformations applied in COCO's order. Each
function is coordinate-first: ``x`` of shape (d, …) gives the values of its columns.

``bbob-jax`` (PyPI) was not used: it draws its instances with ``jax.random`` (so no instance is
COCO's) and its f3 multiplies the Rastrigin terms where COCO adds them (docs/suites.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from ..problems import branched

__all__ = ["FUNCTIONS", "DIMS", "PEAKS", "instance", "formula", "family", "empty_params", "BbobInstance", "unif", "gauss", "rotation", "xopt_of", "fopt_of"]

FUNCTIONS = range(1, 25)
DIMS = (2, 40)            # COCO's legacy rotations hold at most 40² entries

FUNCTION_NAMES = {
    1: "sphere", 2: "separable ellipsoid", 3: "Rastrigin", 4: "Büche–Rastrigin", 5: "linear slope",
    6: "attractive sector", 7: "step ellipsoid", 8: "Rosenbrock", 9: "rotated Rosenbrock", 10: "ellipsoid",
    11: "discus", 12: "bent cigar", 13: "sharp ridge", 14: "different powers", 15: "rotated Rastrigin",
    16: "Weierstrass", 17: "Schaffer F7", 18: "ill-conditioned Schaffer F7", 19: "Griewank–Rosenbrock F8F2",
    20: "Schwefel x·sin(x)", 21: "Gallagher 101 peaks", 22: "Gallagher 21 peaks", 23: "Katsuura",
    24: "Lunacek bi-Rastrigin"}
#: functions not differentiable at their optimum (or with a gradient of 0 almost everywhere)
NOT_SMOOTH = frozenset({7, 13, 14, 23})


# --- COCO's instance generator (suite_bbob_legacy_code.c) ---------------------------------------

def unif(n: int, seed: int) -> list[float]:
    """``bbob2009_unif``: n uniform numbers in (0, 1] from the seed."""
    seed = max(abs(int(seed)), 1)
    akt = seed
    table = [0] * 32
    for i in range(39, -1, -1):
        tmp = akt // 127773
        akt = 16807 * (akt - tmp * 127773) - 2836 * tmp
        if akt < 0:
            akt += 2147483647
        if i < 32:
            table[i] = akt
    rand = table[0]
    out = []
    for _ in range(n):
        tmp = akt // 127773
        akt = 16807 * (akt - tmp * 127773) - 2836 * tmp
        if akt < 0:
            akt += 2147483647
        tmp = rand // 67108865
        rand = table[tmp]
        table[tmp] = akt
        r = rand / 2.147483647e9
        out.append(r if r != 0.0 else 1e-99)
    return out


def gauss(n: int, seed: int) -> list[float]:
    """``bbob2009_gauss``: n standard normal numbers (Box–Muller on 2n uniforms)."""
    u = unif(2 * n, seed)
    out = []
    for i in range(n):
        g = math.sqrt(-2 * math.log(u[i])) * math.cos(2 * math.pi * u[n + i])
        out.append(g if g != 0.0 else 1e-99)
    return out


@functools.lru_cache(maxsize=512)
def rotation(seed: int, d: int) -> tuple[tuple[float, ...], ...]:
    """``bbob2009_compute_rotation``: a d×d orthogonal matrix (rows), Gram–Schmidt on Gaussian columns."""
    g = gauss(d * d, seed)
    b = [[g[j * d + i] for j in range(d)] for i in range(d)]
    for i in range(d):
        for j in range(i):
            prod = 0.0
            for k in range(d):
                prod += b[k][i] * b[k][j]
            for k in range(d):
                b[k][i] -= prod * b[k][j]
        prod = 0.0
        for k in range(d):
            prod += b[k][i] * b[k][i]
        for k in range(d):
            b[k][i] /= math.sqrt(prod)
    return tuple(tuple(row) for row in b)


def xopt_of(seed: int, d: int) -> list[float]:
    """``bbob2009_compute_xopt``: the shift, on a grid of 8·10⁻⁴ in [−4, 4), never 0."""
    out = []
    for u in unif(d, seed):
        v = 8 * math.floor(1e4 * u) / 1e4 - 4
        out.append(v if v != 0.0 else -1e-5)
    return out


def fopt_of(function: int, inst: int) -> float:
    """``bbob2009_compute_fopt``: the offset f_opt, a multiple of 0.01 in [−1000, 1000]."""
    rseed = {4: 3, 18: 17}.get(function, function) + 10000 * inst
    g1, g2 = gauss(1, rseed)[0], gauss(1, rseed + 1)[0]
    return min(1000.0, max(-1000.0, math.floor(100.0 * 100.0 * g1 / g2 + 0.5) / 100.0))


def _ratio(i: int, d: int) -> float:
    return i / (d - 1.0)


def _scaled_product(rot1, rot2, base: float, d: int) -> np.ndarray:
    """rot1 · diag(base^(k/(d−1))) · rot2, summed as COCO sums it."""
    out = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            s = 0.0
            for k in range(d):
                s += rot1[i][k] * math.pow(base, 1.0 * k / (d - 1.0)) * rot2[k][j]
            out[i, j] = s
    return out


# --- the transformations, coordinate-first -------------------------------------------------------

def _col(v, x):
    """A per-coordinate vector (d,) shaped to broadcast against x (d, …), in x's dtype."""
    v = jnp.asarray(v, dtype=x.dtype)
    return v.reshape(v.shape + (1,) * (x.ndim - 1))


def _mat(m, x):
    return jnp.tensordot(jnp.asarray(m, dtype=x.dtype), x, axes=1)


def _osz(x):
    """T_osz: sign(x)·exp(x̂ + 0.049(sin c1x̂ + sin c2x̂)), x̂ = log|x| (0 at 0)."""
    a = jnp.abs(x)
    nz = a > 0
    t = jnp.log(jnp.where(nz, a, 1.0)) / 0.1
    pos = x > 0
    wave = jnp.where(pos, jnp.sin(t) + jnp.sin(0.79 * t), jnp.sin(0.55 * t) + jnp.sin(0.31 * t))
    v = jnp.exp(0.1 * (t + 0.49 * wave))
    return jnp.where(nz, jnp.where(pos, v, -v), 0.0)


def _asy(x, beta: float):
    """T_asy^β: x_i^(1 + β·i/(d−1)·√x_i) where x_i > 0."""
    d = x.shape[0]
    c = _col(np.array([beta * i / (d - 1.0) for i in range(d)]), x)
    pos = x > 0
    safe = jnp.where(pos, x, 1.0)
    return jnp.where(pos, safe ** (1.0 + c * jnp.sqrt(safe)), x)


def _powers(base: float, d: int, half: bool = False) -> np.ndarray:
    """base^(i/(d−1)) (COCO's pow), or base^(0.5·i/(d−1)) with ``half``."""
    return np.array([math.pow(base, (0.5 if half else 1.0) * i / (d - 1.0)) for i in range(d)])


def _penalty(x):
    """Σ max(0, |x_i| − 5)²: COCO's f_pen outside [−5, 5]^d."""
    return jnp.sum(jnp.maximum(jnp.abs(x) - 5.0, 0.0) ** 2, axis=0)


def _rastrigin(z):
    d = z.shape[0]
    return 10.0 * (d - jnp.sum(jnp.cos(2 * math.pi * z), axis=0)) + jnp.sum(z * z, axis=0)


def _rosenbrock(z):
    return 100.0 * jnp.sum((z[:-1] ** 2 - z[1:]) ** 2, axis=0) + jnp.sum((z[:-1] - 1.0) ** 2, axis=0)


def _safe_pow(v, p):
    """v^p for v ≥ 0, with a finite gradient at 0 (where v^p's is infinite for p < 1)."""
    pos = v > 0
    return jnp.where(pos, jnp.where(pos, v, 1.0) ** p, 0.0)


# --- the instances --------------------------------------------------------------------------------

# --- the instances --------------------------------------------------------------------------------
#
# Each function is two parts: its data (what an instance draws: the shift, f_opt, rotations,
# Gallagher's peaks), as params in named slots of the same shapes for every function of one
# dimension, and its formula of (x, params), with what depends on the dimension alone built in.
# The functions of one dimension are then one family (:func:`family`): the engine compiles it once
# a method and takes each instance's params as kernel inputs.

PEAKS = 101          # Gallagher's largest number of peaks: the peak slots hold this many rows


def empty_params(d: int) -> dict[str, np.ndarray]:
    """The params slots of a d-dimensional bbob function, unused ones as here: ``which`` (the
    function's branch in its family), ``fopt``, ``const`` (scalars), ``shift``, ``vec`` (d,), ``m``,
    ``r`` (d, d), ``peak_x``, ``peak_s`` (PEAKS, d)."""
    return {"which": np.int32(0), "fopt": np.float64(0.0), "const": np.float64(0.0), "shift": np.zeros(d),
            "vec": np.zeros(d), "m": np.zeros((d, d)), "r": np.zeros((d, d)),
            "peak_x": np.zeros((PEAKS, d)), "peak_s": np.ones((PEAKS, d))}


def _num(p, name, x):
    """A scalar slot in x's dtype."""
    return jnp.asarray(p[name], dtype=x.dtype)


class BbobInstance:
    """One bbob problem: ``fn`` (coordinate-first), ``x_opt`` (a global minimiser), ``f_opt``, and
    ``params``, its numbers in the slots of :func:`empty_params` (``fn(x)`` is
    ``formula(function, d)(x, params)``)."""

    def __init__(self, function: int, inst: int, d: int, params: dict, x_opt, f_opt: float):
        self.function, self.instance, self.dim = function, inst, d
        self.params = params
        self.x_opt, self.f_opt = tuple(float(v) for v in x_opt), float(f_opt)
        formula_ = formula(function, d)
        self.fn = lambda x: formula_(x, params)


@functools.lru_cache(maxsize=256)
def instance(function: int, inst: int, d: int) -> BbobInstance:
    """Function ``function`` (1–24), instance ``inst`` (≥ 1), dimension ``d`` (2–40) of bbob."""
    _check(function, d)
    rseed = function + 10000 * inst
    fopt = fopt_of(function, inst)
    slots, x_opt = _DATA[function](inst, d, rseed)
    params = {**empty_params(d), **slots, "fopt": np.float64(fopt)}
    return BbobInstance(function, inst, d, params, x_opt, fopt)


def _check(function: int, d: int):
    if function not in FUNCTIONS:
        raise ValueError(f"bbob has functions 1 to 24, not {function}")
    if not DIMS[0] <= d <= DIMS[1]:
        raise ValueError(f"bbob's dimensions are {DIMS[0]} to {DIMS[1]}, not {d}")


@functools.cache
def formula(function: int, d: int) -> Callable:
    """f(x, params) of bbob's function ``function`` in ``d`` dimensions."""
    _check(function, d)
    return _FORMULAS[function](d)


@functools.cache
def family(functions: tuple[int, ...], d: int) -> Callable:
    """One f(x, params) for several bbob functions of one dimension: ``params["which"]`` picks the
    function by its place in ``functions`` (a branch: only that function is evaluated, and
    differentiated, at each call: :func:`~gdlab.core.problems.branched`)."""
    branches = [formula(f, d) for f in functions]
    if len(branches) == 1:
        return branches[0]
    return branched(branches)


def _xopt(rseed, d):
    return np.array(xopt_of(rseed, d))


def _shift_and_matrix(rseed: int, d: int, base: float):
    """x_opt and the matrix Q·diag(base^(i/(d−1)))·R of most rotated functions (Q, R: COCO's two rotations)."""
    return _xopt(rseed, d), _scaled_product(rotation(rseed + 1000000, d), rotation(rseed, d), base, d)


def _rot(seed, d):
    return np.array(rotation(seed, d))


# the data of each function: (inst, d, rseed) → (its slots, x_opt)

def _shift_only(inst, d, rseed):
    xo = _xopt(rseed, d)
    return {"shift": xo}, xo


def _shift_m(base):
    def data(inst, d, rseed):
        xo, m = _shift_and_matrix(rseed, d, base)
        return {"shift": xo, "m": m}, xo
    return data


def _shift_m_r(base):
    def data(inst, d, rseed):
        xo, m = _shift_and_matrix(rseed, d, base)
        return {"shift": xo, "m": m, "r": _rot(rseed + 1000000, d)}, xo
    return data


def _shift_rot(inst, d, rseed):
    xo = _xopt(rseed, d)
    return {"shift": xo, "m": _rot(rseed + 1000000, d)}, xo


def _d4(inst, d, rseed):
    xo = _xopt(3 + 10000 * inst, d)
    xo[::2] = np.abs(xo[::2])
    return {"shift": xo}, xo


def _d5(inst, d, rseed):
    xo = _xopt(rseed, d)
    best = np.where(xo < 0, -5.0, 5.0)
    s = np.array([(1.0 if best[i] > 0 else -1.0) * math.pow(math.sqrt(100.0), i / (d - 1.0)) for i in range(d)])
    return {"shift": best, "vec": s, "const": np.float64(np.sum(5.0 * np.abs(s)))}, best


def _d7(inst, d, rseed):
    xo = _xopt(rseed, d)
    return {"shift": xo, "m": _rot(rseed + 1000000, d), "r": _rot(rseed, d)}, xo


def _d8(inst, d, rseed):
    xo = 0.75 * _xopt(rseed, d)
    return {"shift": xo}, xo


def _d9(inst, d, rseed):
    rot = _rot(rseed, d)
    factor = max(1.0, math.sqrt(d) / 8.0)
    return {"m": factor * rot}, rot.sum(axis=0) / (2.0 * factor)


def _d12(inst, d, rseed):
    xo = _xopt(rseed + 1000000, d)
    return {"shift": xo, "m": _rot(rseed + 1000000, d)}, xo


def _schaffers_data(conditioning: float):
    def data(inst, d, rseed):
        if conditioning == 1000.0:       # f18 draws as f17 does
            rseed = 17 + 10000 * inst
        xo = _xopt(rseed, d)
        scale = np.array([math.pow(math.sqrt(conditioning), 1.0 * i / (d - 1.0)) for i in range(d)])
        return {"shift": xo, "r": _rot(rseed + 1000000, d), "m": _rot(rseed, d) * scale[:, None]}, xo
    return data


def _d19(inst, d, rseed):
    scales = max(1.0, math.sqrt(d) / 8.0)
    m = _rot(rseed, d) * scales
    return {"m": m}, m.sum(axis=0) / (2.0 * scales)


def _d20(inst, d, rseed):
    sign = np.array([-1.0 if u - 0.5 < 0 else 1.0 for u in unif(d, rseed)])
    xo = 0.5 * 4.2096874637 * sign
    return {"vec": sign, "shift": 2 * np.abs(xo)}, 0.5 * 4.2096874633 * sign


def _gallagher_data(peaks: int):
    def data(inst, d, rseed):
        rot = rotation(rseed, d)
        if peaks == 101:
            cond1, b, c = math.sqrt(1000.0), 10.0, 5.0
        else:
            cond1, b, c = 1000.0, 9.8, 4.9
        u = unif(peaks - 1, rseed)
        order = sorted(range(peaks - 1), key=lambda i: u[i])      # qsort by value; ties never occur
        cond = [cond1] + [math.pow(1000.0, order[i - 1] / (peaks - 2.0)) for i in range(1, peaks)]
        scales = np.ones((PEAKS, d))
        for i in range(peaks):
            r = unif(d, rseed + 1000 * i)
            idx = sorted(range(d), key=lambda j: r[j])
            for j in range(d):
                scales[i, j] = math.pow(cond[i], idx[j] / (d - 1.0) - 0.5)
        r = unif(d * peaks, rseed)
        local = np.zeros((PEAKS, d))
        for i in range(d):
            for j in range(peaks):
                s = 0.0
                for k in range(d):
                    s += rot[i][k] * (b * r[j * d + k] - c)
                local[j, i] = s * (0.8 if j == 0 else 1.0)
        xo = np.array([0.8 * (b * r[i] - c) for i in range(d)])
        return {"m": np.array(rot), "peak_x": local, "peak_s": scales}, xo
    return data


def _d24(inst, d, rseed):
    rot1, rot2 = _rot(rseed + 1000000, d), _rot(rseed, d)
    c1 = np.array([math.pow(math.sqrt(100.0), i / (d - 1.0)) for i in range(d)])
    sign = np.array([-1.0 if g < 0 else 1.0 for g in gauss(d, rseed)])
    return {"vec": sign, "m": rot1 @ (c1[:, None] * rot2)}, 0.5 * 2.5 * sign


# the formulas: d → f(x, p)

def _f1(d):
    return lambda x, p: jnp.sum((x - _col(p["shift"], x)) ** 2, axis=0) + _num(p, "fopt", x)


def _f2(d):
    w = _powers(1.0e6, d)

    def f(x, p):
        z = _osz(x - _col(p["shift"], x))
        return jnp.sum(_col(w, x) * z * z, axis=0) + _num(p, "fopt", x)
    return f


def _f3(d):
    lam = _powers(10.0, d, half=True)

    def f(x, p):
        z = _col(lam, x) * _asy(_osz(x - _col(p["shift"], x)), 0.2)
        return _rastrigin(z) + _num(p, "fopt", x)
    return f


def _f4(d):
    s = np.array([math.pow(math.sqrt(10.0), i / (d - 1.0)) for i in range(d)])
    even = np.arange(d) % 2 == 0

    def f(x, p):
        z = _osz(x - _col(p["shift"], x))
        z = jnp.where((z > 0) & _col(even, x).astype(bool), 10.0, 1.0) * _col(s, x) * z
        return _rastrigin(z) + _num(p, "fopt", x) + 100.0 * _penalty(x)
    return f


def _f5(d):
    def f(x, p):
        best = _col(p["shift"], x)
        z = jnp.where(best * x < 25.0, x, best)     # flat beyond the corner x_opt
        return _num(p, "const", x) - jnp.sum(_col(p["vec"], x) * z, axis=0) + _num(p, "fopt", x)
    return f


def _f6(d):
    def f(x, p):
        xo = _col(p["shift"], x)
        z = _mat(p["m"], x - xo)
        raw = jnp.sum(jnp.where(xo * z > 0, 1.0e4, 1.0) * z * z, axis=0)
        return _safe_pow(_osz(raw), 0.9) + _num(p, "fopt", x)
    return f


def _f7(d):
    c1 = np.array([math.sqrt(math.pow(100 / 10.0, i / (d - 1.0))) for i in range(d)])
    w = _powers(100.0, d)

    def f(x, p):
        y = _col(c1, x) * _mat(p["r"], x - _col(p["shift"], x))
        big = jnp.abs(y) > 0.5
        y_round = jnp.where(big, jnp.floor(y + 0.5), jnp.floor(10.0 * y + 0.5) / 10.0)
        z = _mat(p["m"], y_round)
        core = jnp.sum(_col(w, x) * z * z, axis=0)
        return 0.1 * jnp.maximum(jnp.abs(y[0]) * 1.0e-4, core) + _penalty(x) + _num(p, "fopt", x)
    return f


def _f8(d):
    factor = max(1.0, math.sqrt(d) / 8.0)
    return lambda x, p: _rosenbrock(factor * (x - _col(p["shift"], x)) + 1.0) + _num(p, "fopt", x)


def _f9(d):
    return lambda x, p: _rosenbrock(_mat(p["m"], x) + 0.5) + _num(p, "fopt", x)


def _f10(d):
    w = _powers(1.0e6, d)

    def f(x, p):
        z = _osz(_mat(p["m"], x - _col(p["shift"], x)))
        return jnp.sum(_col(w, x) * z * z, axis=0) + _num(p, "fopt", x)
    return f


def _f11(d):
    def f(x, p):
        z = _osz(_mat(p["m"], x - _col(p["shift"], x)))
        return 1.0e6 * z[0] ** 2 + jnp.sum(z[1:] ** 2, axis=0) + _num(p, "fopt", x)
    return f


def _f12(d):
    def f(x, p):
        z = _mat(p["m"], _asy(_mat(p["m"], x - _col(p["shift"], x)), 0.5))
        return z[0] ** 2 + 1.0e6 * jnp.sum(z[1:] ** 2, axis=0) + _num(p, "fopt", x)
    return f


def _f13(d):
    def f(x, p):
        z = _mat(p["m"], x - _col(p["shift"], x))
        return z[0] ** 2 + 100.0 * _safe_pow(jnp.sum(z[1:] ** 2, axis=0), 0.5) + _num(p, "fopt", x)
    return f


def _f14(d):
    e = np.array([2.0 + 4.0 * i / (d - 1.0) for i in range(d)])

    def f(x, p):
        z = _mat(p["m"], x - _col(p["shift"], x))
        return _safe_pow(jnp.sum(_safe_pow(jnp.abs(z), _col(e, x)), axis=0), 0.5) + _num(p, "fopt", x)
    return f


def _f15(d):
    def f(x, p):
        z = _mat(p["m"], _asy(_osz(_mat(p["r"], x - _col(p["shift"], x))), 0.2))
        return _rastrigin(z) + _num(p, "fopt", x)
    return f


_WEIERSTRASS_K = 12


def _f16(d):
    ak = np.array([math.pow(0.5, k) for k in range(_WEIERSTRASS_K)])
    bk = np.array([math.pow(3.0, k) for k in range(_WEIERSTRASS_K)])
    f0 = 0.0
    for k in range(_WEIERSTRASS_K):
        f0 += ak[k] * math.cos(2 * math.pi * bk[k] * 0.5)

    def f(x, p):
        z = _mat(p["m"], _osz(_mat(p["r"], x - _col(p["shift"], x))))
        a, b = (jnp.asarray(v, x.dtype).reshape((-1,) + (1,) * x.ndim) for v in (ak, bk))
        total = jnp.sum(jnp.cos(2 * math.pi * (z[None] + 0.5) * b) * a, axis=(0, 1))
        return 10.0 * (total / d - f0) ** 3 + _num(p, "fopt", x) + 10.0 / d * _penalty(x)
    return f


def _f17(d):
    def f(x, p):
        z = _mat(p["m"], _asy(_mat(p["r"], x - _col(p["shift"], x)), 0.5))
        s = z[:-1] ** 2 + z[1:] ** 2
        terms = _safe_pow(s, 0.25) * (1.0 + jnp.sin(50.0 * _safe_pow(s, 0.1)) ** 2)
        return (jnp.sum(terms, axis=0) / (d - 1.0)) ** 2 + _num(p, "fopt", x) + 10.0 * _penalty(x)
    return f


def _f19(d):
    def f(x, p):
        z = _mat(p["m"], x) + 0.5
        t = 100.0 * (z[:-1] ** 2 - z[1:]) ** 2 + (1.0 - z[:-1]) ** 2
        return 10.0 + 10.0 * jnp.sum(t / 4000.0 - jnp.cos(t), axis=0) / (d - 1) + _num(p, "fopt", x)
    return f


def _f20(d):
    lam = np.array([math.pow(math.sqrt(10.0), 1.0 * i / (d - 1)) for i in range(d)])

    def f(x, p):
        two_abs = _col(p["shift"], x)
        xh = 2.0 * _col(p["vec"], x) * x
        zh = jnp.concatenate([xh[:1], xh[1:] + 0.25 * (xh[:-1] - two_abs[:-1])], axis=0)
        z = 100.0 * (_col(lam, x) * (zh - two_abs) + two_abs)
        pen = jnp.sum(jnp.maximum(jnp.abs(z) - 500.0, 0.0) ** 2, axis=0)
        s = jnp.sum(z * jnp.sin(jnp.sqrt(jnp.abs(z))), axis=0)
        return 0.01 * (pen + 418.9828872724339 - s / d) + _num(p, "fopt", x)
    return f


def _gallagher(peaks: int):
    values = np.array([10.0] + [(i - 1) / (peaks - 2.0) * (9.1 - 1.1) + 1.1 for i in range(1, peaks)])

    def make(d):
        def f(x, p):
            t = _mat(p["m"], x)
            trail = (1,) * (x.ndim - 1)
            lx = jnp.asarray(p["peak_x"][:peaks], x.dtype).reshape((peaks, d) + trail)
            sc = jnp.asarray(p["peak_s"][:peaks], x.dtype).reshape((peaks, d) + trail)
            q = jnp.sum(sc * (t[None] - lx) ** 2, axis=1)
            wv = jnp.asarray(values, x.dtype).reshape((peaks,) + trail)
            g = 10.0 - jnp.maximum(jnp.max(wv * jnp.exp(-0.5 / d * q), axis=0), 0.0)
            return _osz(g) ** 2 + _penalty(x) + _num(p, "fopt", x)
        return f
    return make


def _f23(d):
    two = np.array([math.pow(2.0, j) for j in range(1, 33)])
    ex = 10.0 / math.pow(d, 1.2)

    def f(x, p):
        z = _mat(p["m"], x - _col(p["shift"], x))
        pw = jnp.asarray(two, x.dtype).reshape((-1,) + (1,) * x.ndim)
        pz = pw * z[None]
        inner = jnp.sum(jnp.abs(pz - jnp.floor(pz + 0.5)) / pw, axis=0)
        factors = 1.0 + _col(np.arange(1, d + 1, dtype=np.float64), x) * inner
        return 10.0 / d / d * (-1.0 + jnp.prod(factors, axis=0) ** ex) + _num(p, "fopt", x) + _penalty(x)
    return f


def _f24(d):
    mu0, dd = 2.5, 1.0
    s = 1.0 - 0.5 / (math.sqrt(d + 20.0) - 4.1)
    mu1 = -math.sqrt((mu0 * mu0 - dd) / s)

    def f(x, p):
        xh = 2.0 * _col(p["vec"], x) * x
        z = _mat(p["m"], xh - mu0)
        s1 = jnp.sum((xh - mu0) ** 2, axis=0)
        s2 = jnp.sum((xh - mu1) ** 2, axis=0)
        return (jnp.minimum(s1, dd * d + s * s2) + 10.0 * (d - jnp.sum(jnp.cos(2 * math.pi * z), axis=0))
                + 1.0e4 * _penalty(x) + _num(p, "fopt", x))
    return f


_DATA = {1: _shift_only, 2: _shift_only, 3: _shift_only, 4: _d4, 5: _d5, 6: _shift_m(math.sqrt(10.0)), 7: _d7,
         8: _d8, 9: _d9, 10: _shift_rot, 11: _shift_rot, 12: _d12, 13: _shift_m(math.sqrt(10.0)), 14: _shift_rot,
         15: _shift_m_r(math.sqrt(10.0)), 16: _shift_m_r(1.0 / math.sqrt(100.0)), 17: _schaffers_data(10.0),
         18: _schaffers_data(1000.0), 19: _d19, 20: _d20, 21: _gallagher_data(101), 22: _gallagher_data(21),
         23: _shift_m(math.sqrt(100.0)), 24: _d24}
_FORMULAS = {1: _f1, 2: _f2, 3: _f3, 4: _f4, 5: _f5, 6: _f6, 7: _f7, 8: _f8, 9: _f9, 10: _f10, 11: _f11,
             12: _f12, 13: _f13, 14: _f14, 15: _f15, 16: _f16, 17: _f17, 18: _f17, 19: _f19, 20: _f20,
             21: _gallagher(101), 22: _gallagher(21), 23: _f23, 24: _f24}
