"""Throughput of gdlab against the baselines, measured in one run (issue 5).

The same multi-start work for every method: starts drawn uniformly in the
problem's domain, gradient descent with a stable alpha, stop at the first step
k ≥ 10 with |f_k − f_{k−1}| < 1e-6, or at max_iter = 2000, float32.

  sweep   gdlab.sweep(config) in memory, end to end (config → Results with runs, stops, curves), warm
  cli     the gdlab command in a subprocess, from the command to its last line (parts, manifest, report)
  cli-noreport  the same with report.build=false
  gdlab   the engine (refill kernel), records streamed and counted
  gdlab-final  the same without checkpoint curves (EngineOptions(curves=False)): each run's record
          is its final state and stop table, which is more than any baseline keeps
  python  a per-start pure-Python loop in the lesson's style (a subset of starts)
  numpy   NumPy vectorised over starts, finished starts dropped from the active set
  vmap    a plain jit(vmap(while_loop)) over all starts
  scipy   scipy.optimize.minimize(BFGS) per start (a subset of starts; runs/s)

The machine (CPU model, its vector extensions, usable cores, versions) is printed
first and written to ``machine.json`` beside the CSVs: the ratios depend on it
(NumPy's sin and cos use AVX-512 where the CPU has it, the Python loop gains
from a faster core), so tables are compared on the same CPU only.

Each (method, problem, n) runs in its own subprocess, so peak RSS is its own;
compilation is done before the timed run and reported apart. Rates of the
subset methods are per step (python) or per run (scipy), which is what the
ratios compare. Every size is measured in ``--repeat`` rounds (3), each method
once per round; a ratio is taken within a round and reported as the median
and range over the rounds, because a shared VM's speed drifts between runs
minutes apart. Usage:

  python benchmarks/throughput.py                 # 10^3 … 10^6 starts, four problems, 3 rounds
  python benchmarks/throughput.py --quick         # 10^3 … 10^5
  python benchmarks/throughput.py --sizes 1e6 --problems himmelblau-1e-3,rosenbrock   # issue 34's workload
  python benchmarks/throughput.py --scaling       # the command, gdlab.sweep and the kernel on Himmelblau, 10^2 … 10^7,
                                                  # with the baselines, and a figure
  python benchmarks/throughput.py --memory        # peak RSS of a whole sweep (gdlab's own folder), 10^5 … 10^7
  python benchmarks/throughput.py --goal          # the GPU goal: gdlab and the plain vmap on the 2-D problems
                                                  # at 10^7 starts, against 10^11 useful steps/s (--starts N)

Each JAX worker also reports the device it ran on (``device``: the accelerator's
kind, or ``cpu``). The parent process never touches a JAX backend, so on a GPU
every worker has the device to itself (JAX preallocates most of a GPU's memory
for the process that first uses it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PROBLEMS = {   # name: (registry name, dim, alpha)
    "himmelblau": ("himmelblau", 2, 0.005),
    # the end-to-end workload of issue 34: a smaller step, about 196 steps a run (41 at α = 0.005)
    "himmelblau-1e-3": ("himmelblau", 2, 1e-3),
    "rosenbrock": ("rosenbrock", 2, 2e-4),
    "rastrigin": ("rastrigin", 2, 0.002),
    "rastrigin10": ("rastrigin", 10, 0.002),
}
EPS, MIN_STEPS, MAX_ITER = 1e-6, 10, 2000
SUBSET = {"python": 300, "scipy": 200}


# --- f and ∇f written out, for the NumPy, Python and SciPy baselines -----------

def np_f(name, x):
    if name == "himmelblau":
        a, b = x[..., 0], x[..., 1]
        return (a * a + b - 11) ** 2 + (a + b * b - 7) ** 2
    if name == "rosenbrock":
        return np.sum(100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2, axis=-1)
    return 10 * x.shape[-1] + np.sum(x * x - 10 * np.cos(2 * np.pi * x), axis=-1)


def np_grad(name, x):
    if name == "himmelblau":
        a, b = x[..., 0], x[..., 1]
        u, v = a * a + b - 11, a + b * b - 7
        return np.stack([4 * a * u + 2 * v, 2 * u + 4 * b * v], axis=-1)
    if name == "rosenbrock":
        g = np.zeros_like(x)
        t = x[..., 1:] - x[..., :-1] ** 2
        g[..., :-1] += -400 * x[..., :-1] * t - 2 * (1 - x[..., :-1])
        g[..., 1:] += 200 * t
        return g
    return 2 * x + 20 * np.pi * np.sin(2 * np.pi * x)


def py_f(name, x):
    if name == "himmelblau":
        return (x[0] * x[0] + x[1] - 11) ** 2 + (x[0] + x[1] * x[1] - 7) ** 2
    if name == "rosenbrock":
        return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))
    return 10 * len(x) + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in x)


def py_grad(name, x):
    if name == "himmelblau":
        u, v = x[0] * x[0] + x[1] - 11, x[0] + x[1] * x[1] - 7
        return [4 * x[0] * u + 2 * v, 2 * u + 4 * x[1] * v]
    if name == "rosenbrock":
        g = [0.0] * len(x)
        for i in range(len(x) - 1):
            t = x[i + 1] - x[i] ** 2
            g[i] += -400 * x[i] * t - 2 * (1 - x[i])
            g[i + 1] += 200 * t
        return g
    return [2 * v + 20 * math.pi * math.sin(2 * math.pi * v) for v in x]


def starts(problem, n, seed=0):
    from gdlab.core.problems import get_problem
    reg, dim, _ = PROBLEMS[problem]
    dom = get_problem(reg, dim).domain_array
    rng = np.random.default_rng(seed)
    return (dom[:, 0] + (dom[:, 1] - dom[:, 0]) * rng.random((n, dim))).astype(np.float32)


# --- the methods: each returns (seconds, useful steps, runs, compile seconds) ---------

def run_gdlab(problem, x0, curves=True):
    from gdlab.core.criteria import stop_rules
    from gdlab.core.problems import get_problem
    from gdlab.engine import EngineOptions, stream_batch
    reg, dim, alpha = PROBLEMS[problem]
    p = get_problem(reg, dim)
    rules = stop_rules("df", EPS, MIN_STEPS)
    opts = EngineOptions(max_iter=MAX_ITER, dtype="float32", curves=curves)
    t = time.perf_counter()
    for _ in stream_batch(p, "gd", x0, alpha, rules, opts):   # compile for these shapes
        pass
    compile_s = time.perf_counter() - t
    stats, steps = {}, 0
    t = time.perf_counter()
    for rec in stream_batch(p, "gd", x0, alpha, rules, opts, stats):
        steps += int(rec["k"].sum())
    seconds = time.perf_counter() - t
    return seconds, steps, len(x0), max(compile_s - seconds, 0.0), stats["useful"] / stats["executed"]


def run_vmap(problem, x0):
    import jax
    import jax.numpy as jnp

    from gdlab.core.problems import get_problem
    reg, dim, alpha = PROBLEMS[problem]
    fn = get_problem(reg, dim).fn
    vg = jax.value_and_grad(fn)

    def one(x):
        f0 = fn(x)

        def cond(c):
            return (c[2] < MAX_ITER) & ~c[3]

        def body(c):
            x, f, k, _ = c
            _, g = vg(x)
            x = x - alpha * g
            fx = fn(x)
            k = k + 1
            done = ((k >= MIN_STEPS) & (jnp.abs(fx - f) < EPS)) | ~jnp.isfinite(fx)
            return x, fx, k, done

        x, f, k, _ = jax.lax.while_loop(cond, body, (x, f0, jnp.int32(0), jnp.bool_(False)))
        return k

    run = jax.jit(jax.vmap(one))
    xs = jnp.asarray(x0)
    t = time.perf_counter()
    run(xs).block_until_ready()
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    k = np.asarray(run(xs).block_until_ready())
    seconds = time.perf_counter() - t
    executed = len(x0) * int(k.max())
    return seconds, int(k.sum()), len(x0), max(compile_s - seconds, 0.0), k.sum() / executed


def run_numpy(problem, x0):
    reg, _, alpha = PROBLEMS[problem]
    t = time.perf_counter()
    x = x0.copy()
    f = np_f(reg, x).astype(np.float32)
    active = np.arange(len(x))
    steps = 0
    for k in range(1, MAX_ITER + 1):
        xa = x[active] - np.float32(alpha) * np_grad(reg, x[active]).astype(np.float32)
        fa = np_f(reg, xa).astype(np.float32)
        done = ((k >= MIN_STEPS) & (np.abs(fa - f[active]) < EPS)) | ~np.isfinite(fa)
        x[active], f[active] = xa, fa
        steps += len(active)
        active = active[~done]
        if not len(active):
            break
    return time.perf_counter() - t, steps, len(x0), 0.0, math.nan


def run_python(problem, x0):
    reg, _, alpha = PROBLEMS[problem]
    x0 = x0[: SUBSET["python"]].astype(float).tolist()
    t = time.perf_counter()
    steps = 0
    for start in x0:
        x = list(start)
        f = py_f(reg, x)
        for k in range(1, MAX_ITER + 1):
            g = py_grad(reg, x)
            x = [xi - alpha * gi for xi, gi in zip(x, g)]
            fx = py_f(reg, x)
            steps += 1
            if (k >= MIN_STEPS and abs(fx - f) < EPS) or not math.isfinite(fx):
                break
            f = fx
    return time.perf_counter() - t, steps, len(x0), 0.0, math.nan


def run_scipy(problem, x0):
    from scipy.optimize import minimize
    reg, _, _ = PROBLEMS[problem]
    x0 = x0[: SUBSET["scipy"]].astype(float)
    t = time.perf_counter()
    steps = 0
    for start in x0:
        res = minimize(lambda v: float(np_f(reg, v)), start, jac=lambda v: np_grad(reg, v), method="BFGS")
        steps += res.nit
    return time.perf_counter() - t, steps, len(x0), 0.0, math.nan


def sweep_config(problem, n, seed=0) -> dict:
    """The benchmark's work as a gdlab config: the same problem, α, rule and max_iter, n uniform starts."""
    reg, dim, alpha = PROBLEMS[problem]
    return {"experiment": "benchmark", "problems": [{"name": reg, "dim": dim}], "method": ["gd"], "alpha": [alpha],
            "starts": {"kind": "uniform", "n": n, "seed": seed}, "criterion": ["df"], "epsilon": [EPS],
            "min_steps": [MIN_STEPS], "max_iter": MAX_ITER, "dtype": "float32", "traces": 0}


def run_sweep(problem, x0):
    """``gdlab.sweep(config)`` end to end: config → Results with the runs, stops and curves tables,
    warm (a first call of the same size compiles; its extra time is the compile time)."""
    import gdlab
    config = sweep_config(problem, len(x0))
    t = time.perf_counter()
    gdlab.sweep(config)
    first = time.perf_counter() - t
    t = time.perf_counter()
    res = gdlab.sweep(config)
    seconds = time.perf_counter() - t
    return seconds, int(res.runs["n_iter"].sum()), len(res.runs), max(first - seconds, 0.0), \
        res.facts["lane_utilisation"]


def run_cli(problem, x0, report=True):
    """The ``gdlab`` command in a subprocess, from the command to its last line: imports, config,
    the sweep into a fresh folder (parts, manifest) and, with ``report``, the report. Cold, as a
    user meets it (JAX's persistent compile cache, where gdlab keeps one, as it is)."""
    import tempfile

    import pyarrow.dataset as ds
    reg, dim, alpha = PROBLEMS[problem]
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "gdlab", f"out_dir={tmp}", "name=benchmark",
                f"problems=[{{name: {reg}, dim: {dim}}}]", "method=[gd]", f"alpha=[{alpha}]",
                f"starts={{kind: uniform, n: {len(x0)}, seed: 0}}", "criterion=[df]", f"epsilon=[{EPS}]",
                f"min_steps=[{MIN_STEPS}]", f"max_iter={MAX_ITER}", "dtype=float32", "traces=0",
                f"report.build={'true' if report else 'false'}"]
        env = {k: v for k, v in os.environ.items() if k != "GDLAB_CPU_DEVICES"}
        t = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp)
        seconds = time.perf_counter() - t
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        folder = next(Path(tmp, "benchmark").iterdir())
        steps = ds.dataset(folder / "runs", format="parquet").to_table(columns=["n_iter"]).column(0)
        manifest = json.loads((folder / "manifest.json").read_text())
    return seconds, int(steps.to_numpy().sum()), len(x0), 0.0, manifest["lane_utilisation"]


JAX_METHODS = ("gdlab", "gdlab-final", "vmap", "sweep")
#: what a user waits for: gdlab.sweep in memory, and the gdlab command with and without its report
END_TO_END = ("sweep", "cli", "cli-noreport")
METHODS = {"gdlab": run_gdlab, "gdlab-final": lambda problem, x0: run_gdlab(problem, x0, curves=False),
           "sweep": run_sweep, "cli": run_cli, "cli-noreport": lambda problem, x0: run_cli(problem, x0, report=False),
           "python": run_python, "numpy": run_numpy, "vmap": run_vmap, "scipy": run_scipy}


def worker(method, problem, n):
    x0 = starts(problem, n)
    seconds, steps, runs, compile_s, util = METHODS[method](problem, x0)
    # the command runs in a child process: its peak is the child's
    who = resource.RUSAGE_CHILDREN if method in ("cli", "cli-noreport") else resource.RUSAGE_SELF
    rss_mb = resource.getrusage(who).ru_maxrss / 1024
    device = None
    if method in JAX_METHODS:      # the others never start a JAX backend (on a GPU that would take its memory)
        import jax
        device = jax.devices()[0].device_kind if jax.default_backend() != "cpu" else "cpu"
    print(json.dumps({"method": method, "problem": problem, "n": n, "runs_timed": runs, "seconds": seconds,
                      "useful_steps": steps, "steps_per_s": steps / seconds, "runs_per_s": runs / seconds,
                      "compile_s": compile_s, "peak_rss_mb": rss_mb, "utilisation": util, "device": device}))


def sweep_worker(n):
    """A whole sweep through gdlab's own path (config → parts on disk, no report): time and peak RSS."""
    import tempfile

    from gdlab.runner.execute import run_to_folder
    from gdlab.runner.schema import validate
    reg, dim, alpha = PROBLEMS["himmelblau"]
    with tempfile.TemporaryDirectory() as tmp:
        sw = validate({"experiment": "memory", "problems": [reg], "method": ["gd"], "alpha": [alpha],
                       "starts": {"kind": "uniform", "n": n, "seed": 0}, "criterion": ["df"], "epsilon": [EPS],
                       "min_steps": [MIN_STEPS], "max_iter": MAX_ITER, "dtype": "float32", "traces": 0,
                       "out_dir": tmp})
        t = time.perf_counter()
        run_to_folder(sw, log=lambda m: None, show_progress=False)
        seconds = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"method": "memory", "n": n, "seconds": seconds, "runs_per_s": n / seconds,
                      "peak_rss_mb": rss_mb}))


def measure(method, problem, n):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    if not method.startswith("gdlab") and method not in ("sweep", "memory", *END_TO_END):
        # the baselines get what plain JAX gives (one CPU device; XLA still splits large operations
        # over the cores); `import gdlab` would otherwise give their process a device per core
        env["GDLAB_CPU_DEVICES"] = "1"
    out = subprocess.run([sys.executable, __file__, "--worker", method, problem, str(n)], capture_output=True,
                         text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{method} {problem} {n}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


SIMD_FLAGS = ("avx512f", "avx2", "fma", "asimd", "sve")   # the vector extensions that decide sin/cos/step speed


def machine() -> dict:
    """What the ratios depend on: the CPU model and the vector extensions it has, the cores this
    process may use, and the versions of the libraries measured."""
    import platform

    import jax

    from gdlab.engine.devices import cpu_compiler_options, cpu_info, usable_cores
    model, flags = cpu_info()
    return {"cpu": model, "simd": [f for f in SIMD_FLAGS if f in flags], "cores": usable_cores(),
            "python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__,
            "gdlab_xla_options": cpu_compiler_options() or {}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10^3 … 10^5 starts")
    ap.add_argument("--scaling", action="store_true", help="gdlab on Himmelblau from 10^2 to 10^7 starts")
    ap.add_argument("--memory", action="store_true", help="peak RSS of whole sweeps, 10^5 to 10^7 runs")
    ap.add_argument("--goal", action="store_true",
                    help="gdlab and the plain vmap on the 2-D problems at --starts, against 10^11 steps/s")
    ap.add_argument("--starts", type=int, default=10 ** 7, help="starts for --goal (10^7)")
    ap.add_argument("--problems", default=",".join(p for p in PROBLEMS if p != "himmelblau-1e-3"))
    ap.add_argument("--sizes", help="numbers of starts, comma-separated (default 10^3 … 10^6; --quick … 10^5)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of every method at every size, in turn; ratios are medians over the rounds")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        if args.worker[0] == "memory":
            return sweep_worker(int(args.worker[2]))
        return worker(args.worker[0], args.worker[1], int(args.worker[2]))
    import pandas as pd
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    facts = machine()
    (out / "machine.json").write_text(json.dumps(facts, indent=1) + "\n")
    print(f"machine: {facts['cpu']}, {facts['cores']} cores, {'/'.join(facts['simd']) or 'no SIMD flags read'}, "
          f"gdlab's XLA options {facts['gdlab_xla_options'] or 'none'}; "
          f"Python {facts['python']}, NumPy {facts['numpy']}, JAX {facts['jax']}", flush=True)
    if args.memory:
        rows = []
        for n in (10 ** 5, 10 ** 6, 10 ** 7):
            rows.append(measure("memory", "himmelblau", n))
            print(f"sweep n={n:>10,}  {rows[-1]['seconds']:7.1f} s  {rows[-1]['runs_per_s']:10,.0f} runs/s  "
                  f"peak RSS {rows[-1]['peak_rss_mb']:6.0f} MB", flush=True)
        frame = pd.DataFrame(rows)
        frame.to_csv(out / "memory.csv", index=False)
        ratio = rows[2]["peak_rss_mb"] / rows[1]["peak_rss_mb"]
        print(f"peak RSS 10^7 / 10^6 = {ratio:.2f} (target ≤ 1.2), 10^7 peak {rows[2]['peak_rss_mb']:.0f} MB "
              f"(target < 2048); wrote {out / 'memory.csv'}")
        return
    if args.goal:
        return goal(args.starts, out)
    if args.scaling:
        rows = []
        for n in [10 ** k for k in range(2, 8)]:
            for method in ("cli", "sweep", "gdlab", "gdlab-final", "vmap", "numpy"):
                if method not in ("cli", "gdlab", "gdlab-final") and n > 10 ** 6:
                    continue        # the baselines, and the in-memory tables of 10^7 runs (curves: GBs)
                rows.append(measure(method, "himmelblau", n))
                print(f"{method:7s} n={n:>9,}  {rows[-1]['steps_per_s'] / 1e6:9.2f} M steps/s  "
                      f"{rows[-1]['peak_rss_mb']:7.0f} MB", flush=True)
        frame = pd.DataFrame(rows)
        frame.to_csv(out / "scaling.csv", index=False)
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        labels = {"cli": "gdlab command (with report)", "sweep": "gdlab.sweep (in memory)", "gdlab": "gdlab kernel",
                  "gdlab-final": "gdlab kernel, curves: false", "vmap": "plain vmap", "numpy": "NumPy"}
        for method, block in frame.groupby("method", sort=False):
            ax.plot(block["n"], block["steps_per_s"], "o-", label=labels[method])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of starts (Himmelblau, uniform)")
        ax.set_ylabel("useful descent steps per second")
        ax.set_title(f"Throughput against the number of starts, float32\n{facts['cpu']}, {facts['cores']} cores, "
                     f"{'/'.join(facts['simd'])}", fontsize=9)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "scaling.png", dpi=110)
        print(f"wrote {out / 'scaling.csv'} and {out / 'scaling.png'}")
        return
    sizes = ([int(float(v)) for v in args.sizes.split(",")] if args.sizes
             else [10 ** k for k in range(3, 6 if args.quick else 7)])
    rows = []
    for problem in args.problems.split(","):
        for n in sizes:
            # Every method once per round, the order turned each round: this VM's speed drifts by tens of
            # percent over minutes, so a ratio is taken within a round (methods measured minutes apart
            # at most) and the rounds' ratios are summarised by their median and range.
            methods = [m for m in METHODS if m not in SUBSET or n == sizes[0]]   # per-start rates: once
            for r in range(args.repeat):
                for method in methods[r % len(methods):] + methods[:r % len(methods)]:
                    rows.append({**measure(method, problem, n), "round": r})
                    m = rows[-1]
                    print(f"{problem:12s} n={n:>9,} round {r} {method:7s} {m['steps_per_s'] / 1e6:10.3f} M steps/s "
                          f"{m['runs_per_s']:12,.0f} runs/s {m['peak_rss_mb']:7.0f} MB", flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "throughput.csv", index=False)
    summary = summarise(frame)
    summary.to_csv(out / "ratios.csv", index=False)
    print()
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nwrote {out / 'throughput.csv'} and {out / 'ratios.csv'}")


GOAL = 1e11     # useful steps/s on 2-D problems with 10^7 starts, on one H100 (issue 5)


def goal(n: int, out: Path):
    """The issue's GPU goal, measured on whatever device JAX finds: gdlab (with and without curves)
    and the plain vmap on the 2-D problems at ``n`` starts, one worker process each."""
    import pandas as pd
    rows = []
    for problem in [p for p, (_, dim, _) in PROBLEMS.items() if dim == 2 and p != "himmelblau-1e-3"]:
        for method in JAX_METHODS:
            rows.append(measure(method, problem, n))
            m = rows[-1]
            print(f"{problem:11s} n={n:>11,} {method:11s} on {m['device']}: {m['steps_per_s']:10.4g} steps/s "
                  f"= {m['steps_per_s'] / GOAL:.3g} of 10^11  ({m['seconds']:.2f} s, compile {m['compile_s']:.1f} s, "
                  f"utilisation {m['utilisation']:.3f}, peak RSS {m['peak_rss_mb']:.0f} MB)", flush=True)
    frame = pd.DataFrame(rows).assign(of_goal=lambda f: f["steps_per_s"] / GOAL)
    frame.to_csv(out / "goal.csv", index=False)
    print(f"wrote {out / 'goal.csv'}")
    return frame


#: what each measured path is, as the tables name it
PATHS = {"sweep": "gdlab.sweep, in memory", "cli": "gdlab command, with report",
         "cli-noreport": "gdlab command, no report", "gdlab": "kernel, with curves", "gdlab-final": "kernel, final only"}


def summarise(frame):
    """One row per (gdlab's records, problem, starts): gdlab's median rates, and its ratio to each baseline
    as the median (and range) over rounds of the ratio within a round. The per-start baselines (Python,
    SciPy) are measured at the smallest size only; their rate does not depend on the number of starts."""
    import pandas as pd
    table = []
    mine = frame[frame["method"].str.startswith("gdlab") | frame["method"].isin(END_TO_END)]
    order = {m: i for i, m in enumerate([*END_TO_END, "gdlab", "gdlab-final"])}
    mine = mine.sort_values(["problem", "n", "method"], key=lambda c: c.map(order) if c.name == "method" else c,
                            kind="stable")
    for (variant, problem, n), block in mine.groupby(["method", "problem", "n"], sort=False):
        block = block.set_index("round")
        line = {"path": PATHS[variant], "problem": problem, "starts": n,
                "M steps/s": block["steps_per_s"].median() / 1e6,
                "runs/s": block["runs_per_s"].median(), "utilisation": block["utilisation"].median(),
                "peak RSS MB": block["peak_rss_mb"].max(), "rounds": len(block)}
        kernel = frame[(frame["method"] == "gdlab") & (frame["problem"] == problem) & (frame["n"] == n)]
        of_kernel = (block["steps_per_s"] / kernel.set_index("round")["steps_per_s"]).dropna()
        if variant != "gdlab" and len(of_kernel):
            line["of kernel"] = of_kernel.median()
        for method, rate in (("python", "steps_per_s"), ("numpy", "steps_per_s"), ("vmap", "steps_per_s"),
                             ("scipy", "runs_per_s")):
            base = frame[(frame["method"] == method) & (frame["problem"] == problem)]
            base = base[base["n"] == (base["n"].min() if method in SUBSET else n)].set_index("round")[rate]
            ratios = (block[rate] / base).dropna()
            if len(ratios):
                name = f"× {method}" + (" (runs/s)" if rate == "runs_per_s" else "")
                line[name] = ratios.median()
                line[name + " min"] = ratios.min()
                line[name + " max"] = ratios.max()
        table.append(line)
    return pd.DataFrame(table)


if __name__ == "__main__":
    main()
