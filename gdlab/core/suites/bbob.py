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

__all__ = ["FUNCTIONS", "DIMS", "instance", "BbobInstance", "unif", "gauss", "rotation", "xopt_of", "fopt_of"]

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

class BbobInstance:
    """One bbob problem: ``fn`` (coordinate-first), ``x_opt`` (a global minimiser), ``f_opt``."""

    def __init__(self, function: int, inst: int, d: int, fn: Callable, x_opt, f_opt: float):
        self.function, self.instance, self.dim = function, inst, d
        self.fn, self.x_opt, self.f_opt = fn, tuple(float(v) for v in x_opt), float(f_opt)


@functools.lru_cache(maxsize=256)
def instance(function: int, inst: int, d: int) -> BbobInstance:
    """Function ``function`` (1–24), instance ``inst`` (≥ 1), dimension ``d`` (2–40) of bbob."""
    if function not in FUNCTIONS:
        raise ValueError(f"bbob has functions 1 to 24, not {function}")
    if not DIMS[0] <= d <= DIMS[1]:
        raise ValueError(f"bbob's dimensions are {DIMS[0]} to {DIMS[1]}, not {d}")
    rseed = function + 10000 * inst
    fopt = fopt_of(function, inst)
    return _BUILDERS[function](function, inst, d, rseed, fopt)


def _xopt(rseed, d):
    return np.array(xopt_of(rseed, d))


def _shift_and_matrix(rseed: int, d: int, base: float):
    """x_opt and the matrix Q·diag(base^(i/(d−1)))·R of most rotated functions (Q, R: COCO's two rotations)."""
    return _xopt(rseed, d), _scaled_product(rotation(rseed + 1000000, d), rotation(rseed, d), base, d)


def _f1(fn, inst, d, rseed, fopt):
    xo = _xopt(rseed, d)
    return BbobInstance(fn, inst, d, lambda x: jnp.sum((x - _col(xo, x)) ** 2, axis=0) + fopt, xo, fopt)


def _f2(fn, inst, d, rseed, fopt):
    xo, w = _xopt(rseed, d), _powers(1.0e6, d)

    def f(x):
        z = _osz(x - _col(xo, x))
        return jnp.sum(_col(w, x) * z * z, axis=0) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f3(fn, inst, d, rseed, fopt):
    xo, lam = _xopt(rseed, d), _powers(10.0, d, half=True)

    def f(x):
        z = _col(lam, x) * _asy(_osz(x - _col(xo, x)), 0.2)
        return _rastrigin(z) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f4(fn, inst, d, rseed, fopt):
    xo = _xopt(3 + 10000 * inst, d)
    xo[::2] = np.abs(xo[::2])
    s = np.array([math.pow(math.sqrt(10.0), i / (d - 1.0)) for i in range(d)])
    even = np.arange(d) % 2 == 0

    def f(x):
        z = _osz(x - _col(xo, x))
        z = jnp.where((z > 0) & _col(even, x).astype(bool), 10.0, 1.0) * _col(s, x) * z
        return _rastrigin(z) + fopt + 100.0 * _penalty(x)
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f5(fn, inst, d, rseed, fopt):
    xo = _xopt(rseed, d)
    best = np.where(xo < 0, -5.0, 5.0)
    s = np.array([(1.0 if best[i] > 0 else -1.0) * math.pow(math.sqrt(100.0), i / (d - 1.0)) for i in range(d)])
    const = float(np.sum(5.0 * np.abs(s)))

    def f(x):
        z = jnp.where(_col(best, x) * x < 25.0, x, _col(best, x))     # flat beyond the corner x_opt
        return const - jnp.sum(_col(s, x) * z, axis=0) + fopt
    return BbobInstance(fn, inst, d, f, best, fopt)


def _f6(fn, inst, d, rseed, fopt):
    xo, m = _shift_and_matrix(rseed, d, math.sqrt(10.0))

    def f(x):
        z = _mat(m, x - _col(xo, x))
        raw = jnp.sum(jnp.where(_col(xo, x) * z > 0, 1.0e4, 1.0) * z * z, axis=0)
        return _safe_pow(_osz(raw), 0.9) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f7(fn, inst, d, rseed, fopt):
    xo = _xopt(rseed, d)
    rot1, rot2 = np.array(rotation(rseed + 1000000, d)), np.array(rotation(rseed, d))
    c1 = np.array([math.sqrt(math.pow(100 / 10.0, i / (d - 1.0))) for i in range(d)])
    w = _powers(100.0, d)

    def f(x):
        y = _col(c1, x) * _mat(rot2, x - _col(xo, x))
        big = jnp.abs(y) > 0.5
        y_round = jnp.where(big, jnp.floor(y + 0.5), jnp.floor(10.0 * y + 0.5) / 10.0)
        z = _mat(rot1, y_round)
        core = jnp.sum(_col(w, x) * z * z, axis=0)
        return 0.1 * jnp.maximum(jnp.abs(y[0]) * 1.0e-4, core) + _penalty(x) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f8(fn, inst, d, rseed, fopt):
    xo = 0.75 * _xopt(rseed, d)
    factor = max(1.0, math.sqrt(d) / 8.0)
    return BbobInstance(fn, inst, d, lambda x: _rosenbrock(factor * (x - _col(xo, x)) + 1.0) + fopt, xo, fopt)


def _f9(fn, inst, d, rseed, fopt):
    rot = np.array(rotation(rseed, d))
    factor = max(1.0, math.sqrt(d) / 8.0)
    m = factor * rot
    xo = rot.sum(axis=0) / (2.0 * factor)
    return BbobInstance(fn, inst, d, lambda x: _rosenbrock(_mat(m, x) + 0.5) + fopt, xo, fopt)


def _f10(fn, inst, d, rseed, fopt):
    xo, rot, w = _xopt(rseed, d), np.array(rotation(rseed + 1000000, d)), _powers(1.0e6, d)

    def f(x):
        z = _osz(_mat(rot, x - _col(xo, x)))
        return jnp.sum(_col(w, x) * z * z, axis=0) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f11(fn, inst, d, rseed, fopt):
    xo, rot = _xopt(rseed, d), np.array(rotation(rseed + 1000000, d))

    def f(x):
        z = _osz(_mat(rot, x - _col(xo, x)))
        return 1.0e6 * z[0] ** 2 + jnp.sum(z[1:] ** 2, axis=0) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f12(fn, inst, d, rseed, fopt):
    xo, rot = _xopt(rseed + 1000000, d), np.array(rotation(rseed + 1000000, d))

    def f(x):
        z = _mat(rot, _asy(_mat(rot, x - _col(xo, x)), 0.5))
        return z[0] ** 2 + 1.0e6 * jnp.sum(z[1:] ** 2, axis=0) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f13(fn, inst, d, rseed, fopt):
    xo, m = _shift_and_matrix(rseed, d, math.sqrt(10.0))

    def f(x):
        z = _mat(m, x - _col(xo, x))
        return z[0] ** 2 + 100.0 * _safe_pow(jnp.sum(z[1:] ** 2, axis=0), 0.5) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f14(fn, inst, d, rseed, fopt):
    xo, rot = _xopt(rseed, d), np.array(rotation(rseed + 1000000, d))
    e = np.array([2.0 + 4.0 * i / (d - 1.0) for i in range(d)])

    def f(x):
        z = _mat(rot, x - _col(xo, x))
        return _safe_pow(jnp.sum(_safe_pow(jnp.abs(z), _col(e, x)), axis=0), 0.5) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f15(fn, inst, d, rseed, fopt):
    xo, m = _shift_and_matrix(rseed, d, math.sqrt(10.0))
    rot1 = np.array(rotation(rseed + 1000000, d))

    def f(x):
        z = _mat(m, _asy(_osz(_mat(rot1, x - _col(xo, x))), 0.2))
        return _rastrigin(z) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


_WEIERSTRASS_K = 12


def _f16(fn, inst, d, rseed, fopt):
    xo, m = _shift_and_matrix(rseed, d, 1.0 / math.sqrt(100.0))
    rot1 = np.array(rotation(rseed + 1000000, d))
    ak = np.array([math.pow(0.5, k) for k in range(_WEIERSTRASS_K)])
    bk = np.array([math.pow(3.0, k) for k in range(_WEIERSTRASS_K)])
    f0 = 0.0
    for k in range(_WEIERSTRASS_K):
        f0 += ak[k] * math.cos(2 * math.pi * bk[k] * 0.5)

    def f(x):
        z = _mat(m, _osz(_mat(rot1, x - _col(xo, x))))
        a, b = (jnp.asarray(v, x.dtype).reshape((-1,) + (1,) * x.ndim) for v in (ak, bk))
        total = jnp.sum(jnp.cos(2 * math.pi * (z[None] + 0.5) * b) * a, axis=(0, 1))
        return 10.0 * (total / d - f0) ** 3 + fopt + 10.0 / d * _penalty(x)
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _schaffers(conditioning: float):
    def build(fn, inst, d, rseed, fopt):
        if fn == 18:
            rseed = 17 + 10000 * inst
        xo = _xopt(rseed, d)
        rot1, rot2 = np.array(rotation(rseed + 1000000, d)), np.array(rotation(rseed, d))
        m = rot2 * np.array([math.pow(math.sqrt(conditioning), 1.0 * i / (d - 1.0)) for i in range(d)])[:, None]

        def f(x):
            z = _mat(m, _asy(_mat(rot1, x - _col(xo, x)), 0.5))
            s = z[:-1] ** 2 + z[1:] ** 2
            terms = _safe_pow(s, 0.25) * (1.0 + jnp.sin(50.0 * _safe_pow(s, 0.1)) ** 2)
            return (jnp.sum(terms, axis=0) / (d - 1.0)) ** 2 + fopt + 10.0 * _penalty(x)
        return BbobInstance(fn, inst, d, f, xo, fopt)
    return build


def _f19(fn, inst, d, rseed, fopt):
    rot = np.array(rotation(rseed, d))
    scales = max(1.0, math.sqrt(d) / 8.0)
    m = rot * scales
    xo = m.sum(axis=0) / (2.0 * scales)

    def f(x):
        z = _mat(m, x) + 0.5
        t = 100.0 * (z[:-1] ** 2 - z[1:]) ** 2 + (1.0 - z[:-1]) ** 2
        return 10.0 + 10.0 * jnp.sum(t / 4000.0 - jnp.cos(t), axis=0) / (d - 1) + fopt
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f20(fn, inst, d, rseed, fopt):
    sign = np.array([-1.0 if u - 0.5 < 0 else 1.0 for u in unif(d, rseed)])
    xo = 0.5 * 4.2096874637 * sign
    two_abs = 2 * np.abs(xo)
    lam = np.array([math.pow(math.sqrt(10.0), 1.0 * i / (d - 1)) for i in range(d)])
    best = 0.5 * 4.2096874633 * sign

    def f(x):
        xh = 2.0 * _col(sign, x) * x
        zh = jnp.concatenate([xh[:1], xh[1:] + 0.25 * (xh[:-1] - _col(two_abs[:-1], x))], axis=0)
        z = 100.0 * (_col(lam, x) * (zh - _col(two_abs, x)) + _col(two_abs, x))
        pen = jnp.sum(jnp.maximum(jnp.abs(z) - 500.0, 0.0) ** 2, axis=0)
        s = jnp.sum(z * jnp.sin(jnp.sqrt(jnp.abs(z))), axis=0)
        return 0.01 * (pen + 418.9828872724339 - s / d) + fopt
    return BbobInstance(fn, inst, d, f, best, fopt)


def _gallagher(peaks: int):
    def build(fn, inst, d, rseed, fopt):
        rot = np.array(rotation(rseed, d))
        if peaks == 101:
            cond1, b, c = math.sqrt(1000.0), 10.0, 5.0
        else:
            cond1, b, c = 1000.0, 9.8, 4.9
        u = unif(peaks - 1, rseed)
        order = sorted(range(peaks - 1), key=lambda i: u[i])      # qsort by value; ties never occur
        cond = [cond1] + [math.pow(1000.0, order[i - 1] / (peaks - 2.0)) for i in range(1, peaks)]
        values = [10.0] + [(i - 1) / (peaks - 2.0) * (9.1 - 1.1) + 1.1 for i in range(1, peaks)]
        scales = np.zeros((peaks, d))
        for i in range(peaks):
            r = unif(d, rseed + 1000 * i)
            idx = sorted(range(d), key=lambda j: r[j])
            for j in range(d):
                scales[i, j] = math.pow(cond[i], idx[j] / (d - 1.0) - 0.5)
        r = unif(d * peaks, rseed)
        local = np.zeros((d, peaks))
        for i in range(d):
            for j in range(peaks):
                s = 0.0
                for k in range(d):
                    s += rot[i][k] * (b * r[j * d + k] - c)
                local[i, j] = s * (0.8 if j == 0 else 1.0)
        xo = np.array([0.8 * (b * r[i] - c) for i in range(d)])
        w = np.array(values)

        def f(x):
            t = _mat(rot, x)
            lx = jnp.asarray(local.T, x.dtype).reshape((peaks, d) + (1,) * (x.ndim - 1))
            sc = jnp.asarray(scales, x.dtype).reshape((peaks, d) + (1,) * (x.ndim - 1))
            q = jnp.sum(sc * (t[None] - lx) ** 2, axis=1)
            wv = jnp.asarray(w, x.dtype).reshape((peaks,) + (1,) * (x.ndim - 1))
            g = 10.0 - jnp.maximum(jnp.max(wv * jnp.exp(-0.5 / d * q), axis=0), 0.0)
            return _osz(g) ** 2 + _penalty(x) + fopt
        return BbobInstance(fn, inst, d, f, xo, fopt)
    return build


def _f23(fn, inst, d, rseed, fopt):
    xo, m = _shift_and_matrix(rseed, d, math.sqrt(100.0))
    two = np.array([math.pow(2.0, j) for j in range(1, 33)])
    ex = 10.0 / math.pow(d, 1.2)

    def f(x):
        z = _mat(m, x - _col(xo, x))
        p = jnp.asarray(two, x.dtype).reshape((-1,) + (1,) * x.ndim)
        pz = p * z[None]
        inner = jnp.sum(jnp.abs(pz - jnp.floor(pz + 0.5)) / p, axis=0)
        factors = 1.0 + _col(np.arange(1, d + 1, dtype=np.float64), x) * inner
        return 10.0 / d / d * (-1.0 + jnp.prod(factors, axis=0) ** ex) + fopt + _penalty(x)
    return BbobInstance(fn, inst, d, f, xo, fopt)


def _f24(fn, inst, d, rseed, fopt):
    mu0, dd = 2.5, 1.0
    s = 1.0 - 0.5 / (math.sqrt(d + 20.0) - 4.1)
    mu1 = -math.sqrt((mu0 * mu0 - dd) / s)
    rot1, rot2 = np.array(rotation(rseed + 1000000, d)), np.array(rotation(rseed, d))
    c1 = np.array([math.pow(math.sqrt(100.0), i / (d - 1.0)) for i in range(d)])
    sign = np.array([-1.0 if g < 0 else 1.0 for g in gauss(d, rseed)])
    xo = 0.5 * mu0 * sign
    m = rot1 @ (c1[:, None] * rot2)

    def f(x):
        xh = 2.0 * _col(sign, x) * x
        z = _mat(m, xh - mu0)
        s1 = jnp.sum((xh - mu0) ** 2, axis=0)
        s2 = jnp.sum((xh - mu1) ** 2, axis=0)
        return (jnp.minimum(s1, dd * d + s * s2) + 10.0 * (d - jnp.sum(jnp.cos(2 * math.pi * z), axis=0))
                + 1.0e4 * _penalty(x) + fopt)
    return BbobInstance(fn, inst, d, f, xo, fopt)


_BUILDERS = {1: _f1, 2: _f2, 3: _f3, 4: _f4, 5: _f5, 6: _f6, 7: _f7, 8: _f8, 9: _f9, 10: _f10, 11: _f11,
             12: _f12, 13: _f13, 14: _f14, 15: _f15, 16: _f16, 17: _schaffers(10.0), 18: _schaffers(1000.0),
             19: _f19, 20: _f20, 21: _gallagher(101), 22: _gallagher(21), 23: _f23, 24: _f24}
