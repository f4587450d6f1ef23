"""The package's shape: registries of one form, named hyperparameters, criteria as functions,
one error base, the kernel cache keyed by value, the config keys declared once."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import optax
import pytest

import gdlab
from gdlab.app.commands import list_main
from gdlab.core.criteria import CRITERIA, Criterion, criterion
from gdlab.core.methods import METHODS, Hyper, Method, method
from gdlab.core.problems import PROBLEMS, ProblemEntry
from gdlab.core.schedules import SCHEDULES
from gdlab.engine import kernel_cache_size
from gdlab.lessons import SCENARIOS
from gdlab.runner.execute import run_to_folder
from gdlab.runner.schema import DEFAULTS, key_table, validate

ROOT = Path(__file__).resolve().parent.parent
@pytest.fixture
def scratch():
    """Entries a test registers, taken out of their registries afterwards (other tests list them)."""
    added = []
    yield added
    for registry, name in added:
        registry.pop(name, None)


REGISTRIES = {"problems": (PROBLEMS, ProblemEntry), "methods": (METHODS, Method), "criteria": (CRITERIA, Criterion)}


@pytest.mark.parametrize("which", [*REGISTRIES, "scenarios"])
def test_every_registry_is_a_name_to_entry_mapping_with_a_one_line_doc(which):
    registry, kind = REGISTRIES.get(which, (SCENARIOS, object))
    assert len(registry) >= 3
    for name, entry in registry.items():
        assert isinstance(entry, kind) and entry.name == name
        assert entry.doc.strip() and "\n" not in entry.doc.strip().splitlines()[0]


@pytest.mark.parametrize("which", list(REGISTRIES))
def test_gdlab_list_prints_every_entry_of_its_registry(which, capsys):
    assert list_main([which]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == REGISTRIES[which][0].names()


def test_gdlab_list_experiments_names_every_shipped_experiment(capsys):
    assert list_main(["experiments"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(p.stem for p in (ROOT / "gdlab" / "configs" / "experiment").glob("*.yaml"))
    # each a whole sentence: the leading comment's first, over its lines
    assert all(line.rstrip().endswith((".", "?", "!")) for line in lines), lines
    assert "momentum over four step sizes, and six stop rules judged in the same pass." in lines[names.index("default")]
    assert {"default", "lessons", *SCENARIOS} <= set(names)
    assert list_main(["nothing"]) == 2


def test_an_unknown_name_is_a_gdlab_error_and_a_key_error_with_the_closest_name():
    for registry, bad, close in ((PROBLEMS, "himmelbalu", "himmelblau"), (METHODS, "momentun", "momentum"),
                                 (CRITERIA, "grads", "grad")):
        with pytest.raises(gdlab.UnknownNameError) as err:
            registry.get_entry(bad)
        assert isinstance(err.value, KeyError) and isinstance(err.value, gdlab.GdlabError)
        assert f"did you mean {close!r}" in str(err.value)


@pytest.mark.parametrize("call, kind", [
    (lambda: validate({"alpha": [-1]}), gdlab.ConfigError),
    (lambda: gdlab.get_problem("rosenbrock", 0), gdlab.ProblemError),
    (lambda: gdlab.get_problem("himmelblau", 3), gdlab.ProblemError),
    (lambda: gdlab.descend("himmelblau", "gd", [[1, 2], [3]]), gdlab.InputError),
    (lambda: gdlab.descend("x**2 + y**", "gd", [[1, 2]]), gdlab.ExpressionError),
    (lambda: gdlab.run_batch(gdlab.get_problem("himmelblau"), "gd", np.zeros((2, 3)), 0.1), gdlab.InputError),
    (lambda: gdlab.run_batch(gdlab.get_problem("himmelblau"), "gd", np.zeros((2, 2)), {"alpha": 0.1, "b1": 1}),
     gdlab.InputError),
    (lambda: gdlab.load("/nonexistent/folder"), gdlab.FolderError),
    (lambda: gdlab.sweep([1, 2]), gdlab.ConfigError),
])
def test_bad_input_raises_one_gdlab_error_naming_the_problem(call, kind):
    with pytest.raises(kind) as err:
        call()
    assert isinstance(err.value, gdlab.GdlabError) and str(err.value)


def test_no_module_of_gdlab_catches_a_tuple_of_builtin_exceptions():
    broad = re.compile(r"except \((?:KeyError|ValueError|TypeError|SyntaxError)[^)]*,")
    # (gdlab/core/inputs.py turns NumPy's conversion errors into gdlab's: the one such place)
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "gdlab").rglob("*.py") if p.name != "inputs.py"
            for i, line in enumerate(p.read_text().splitlines(), 1) if broad.search(line)]
    assert hits == [], hits


def test_the_docs_key_table_is_the_schemas():
    page = (ROOT / "docs" / "config.md").read_text()
    block = page.split("<!-- keys:begin -->\n", 1)[1].split("<!-- keys:end -->", 1)[0]
    assert block.strip() == key_table().strip()
    for key in DEFAULTS:
        assert f"`{key}" in block, key


def test_a_registered_method_sweeps_its_hyperparameters_in_one_compilation_with_a_plain_loops_iterates(scratch):
    """A method with two hyperparameters of its own (beyond alpha): every value is a traced row of
    the kernel's (H, L) block, so a sweep over 4 × 3 values compiles one kernel, and each run's
    iterates are those of a loop written here."""
    name = "test_decayed_momentum"

    @method(name, Hyper("beta", 0.5, 0.0, 1.0, high_closed=False), Hyper("shrink", 1.0, 0.0, 1.0, low_closed=False))
    def _decayed(alpha, beta, shrink):
        """momentum with a shrinking gradient, for the test"""
        return optax.chain(optax.scale(shrink), optax.sgd(alpha, momentum=beta))
    scratch.append((METHODS, name))

    betas, shrinks = [0.0, 0.3, 0.6, 0.9], [0.25, 0.5, 1.0]
    before = kernel_cache_size()
    r = gdlab.sweep({"problems": ["paraboloid"], "method": [{"name": name, "beta": betas, "shrink": shrinks}],
                     "alpha": [0.05], "starts": {"kind": "points", "points": [[3.0, -4.0]]}, "criterion": ["grad"],
                     "epsilon": [1e-300], "max_iter": 25, "dtype": "float64", "traces": 1})
    assert kernel_cache_size() - before == 1
    runs = r.runs.sort_values("run_id")
    assert list(runs.columns[:8]) == ["run_id", "problem", "dim", "method", "alpha", "momentum", "beta", "shrink"]
    assert runs["momentum"].isna().all()
    assert sorted(zip(runs["beta"], runs["shrink"])) == sorted((b, s) for b in betas for s in shrinks)
    for row in runs.itertuples():
        x, v = np.array([3.0, -4.0]), np.zeros(2)
        for _ in range(25):
            v = row.shrink * 2 * x + row.beta * v
            x = x - 0.05 * v
        np.testing.assert_allclose(gdlab.points(runs.loc[runs.run_id == row.run_id, "x_final"])[0], x,
                                   rtol=0, atol=1e-13)


def test_a_method_hyperparameter_out_of_range_or_unknown_is_named_with_the_method_and_range():
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"method": ["gd", {"name": "momentum", "momentum": [0.5, 1.5]}, {"name": "gd", "b1": 0.9}]})
    text = str(err.value)
    assert "method[1].momentum: 1.5 is outside [0, 1), the range of momentum's momentum" in text
    assert "method[2].b1: method gd has no hyperparameter 'b1'" in text


def test_a_method_mapping_sets_its_own_grid_and_the_top_level_momentum_list_still_works():
    sw = validate({"method": ["gd", {"name": "momentum", "momentum": [0.5]}, "nesterov"], "alpha": [0.1, 0.01],
                   "momentum": [0.9, 0.8]})
    got = [(s.method.name, dict(s.hyper)) for s in sw.settings]
    assert got == [("gd", {"alpha": 0.1}), ("gd", {"alpha": 0.01}),
                   ("momentum", {"alpha": 0.1, "momentum": 0.5}), ("momentum", {"alpha": 0.01, "momentum": 0.5}),
                   ("nesterov", {"alpha": 0.1, "momentum": 0.9}), ("nesterov", {"alpha": 0.1, "momentum": 0.8}),
                   ("nesterov", {"alpha": 0.01, "momentum": 0.9}), ("nesterov", {"alpha": 0.01, "momentum": 0.8})]


def test_a_registered_criterion_is_one_entry_and_fires_where_its_function_says(scratch):
    """f itself below ε (a target on f): one @criterion function, no edit of the kernel."""
    @criterion("f_below", reads=("f",), at_start=True)
    def _f_below(s):
        """f(x_k) itself: stop once f is below ε (a target value)"""
        return s.f
    scratch.append((CRITERIA, "f_below"))
    r = gdlab.descend("paraboloid", "gd", [[3.0, 4.0]], alpha=0.1, criterion=["f_below", "grad"],
                      epsilon=[1e-2], max_iter=500)
    stops = r.stops.set_index("criterion")
    k = int(stops.loc["f_below", "step"])
    # gd on x² + y² with α = 0.1 shrinks x by 0.8 a step: f_k = 25·0.64^k
    assert k == int(np.ceil(np.log(1e-2 / 25) / np.log(0.64)))
    assert stops.loc["f_below", "f_at_stop"] < 1e-2 <= 25 * 0.64 ** (k - 1)


def test_identical_problems_share_one_compiled_kernel():
    """The kernel cache is keyed by the problem's value (name and dimension, expression), not the
    object: the same descent asked twice, from fresh mappings and strings, compiles once."""
    for problem in ({"name": "rastrigin", "dim": 7}, "x**2 + 3*y**2 - x*y"):
        before = kernel_cache_size()
        for _ in range(2):
            gdlab.descend(dict(problem) if isinstance(problem, dict) else problem, "gd", np.ones((3, 7 if
                          isinstance(problem, dict) else 2)) * 0.1, alpha=0.001, max_iter=20)
        assert kernel_cache_size() - before == 1, problem


def test_two_definitions_under_one_name_are_refused_naming_both():
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"problems": ["himmelblau", {"name": "himmelblau", "expr": "x**2+y**2", "domain": [[-5, 5]] * 2}]})
    assert "problems[1]: the name 'himmelblau' is also problems[0], with another definition" in str(err.value)
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"problems": [{"name": "p", "expr": "x**2", "domain": [[-1, 1]]},
                               {"name": "p", "expr": "x**4", "domain": [[-1, 1]]}]})
    assert "(problems[0]: inline expression x**2; problems[1]: inline expression x**4)" in str(err.value)


@pytest.mark.parametrize("key, values", [("alpha", [0.01, 0.01]), ("criterion", ["dx", "dx"]),
                                         ("epsilon", [1e-3, 1e-3]), ("min_steps", [0, 0]),
                                         ("problems", ["himmelblau", "himmelblau"])])
def test_a_value_listed_twice_is_refused(key, values):
    with pytest.raises(gdlab.ConfigError, match="listed twice"):
        validate({key: values})


def test_an_expression_a_mapping_a_name_and_a_function_each_work_where_a_problem_goes():
    import jax.numpy as jnp
    for problem in ("x**4 - 3*x**2 + x", {"name": "q", "expr": "x**4 - 3*x**2 + x", "domain": [[-3, 3]]},
                    lambda x: x[0] ** 4 - 3 * x[0] ** 2 + x[0]):
        r = gdlab.descend(problem, "gd", [[2.0], [-2.0]], alpha=0.01)
        np.testing.assert_allclose(gdlab.points(r.runs["x_final"])[:, 0], [1.1308, -1.3008], atol=2e-3)
        assert gdlab.inspect_point(problem, [1.0]).grad[0] == pytest.approx(4 - 6 + 1)
    assert gdlab.inspect_point(lambda x: jnp.sum(x ** 2), [1.0, 2.0]).point_type == "non_stationary"
    assert gdlab.descend("rastrigin-3d", "gd", np.zeros((1, 3)), max_iter=5).runs["dim"].tolist() == [3]


def test_gdlab_help_lists_the_commands_and_every_key_and_version_names_gdlab_and_jax():
    import subprocess
    import sys
    from importlib.metadata import version
    helped = subprocess.run([sys.executable, "-m", "gdlab", "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0
    for command in ("gdlab point", "gdlab verify", "gdlab list", "gdlab-report", "experiment=NAME"):
        assert command in helped.stdout, command
    for key in DEFAULTS:
        assert f"\n  {key}" in helped.stdout, key
    shown = subprocess.run([sys.executable, "-m", "gdlab", "--version"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0
    assert shown.stdout.strip().startswith(f"gdlab {gdlab.__version__} (jax {version('jax')}")


HIMMELBLAU_AT_3_2 = """\
problem      himmelblau
x            (3, 2)
f(x)         0
gradient     (0, 0)    ‖∇f‖ = 0
Hessian      [        74          20 ]
             [        20          34 ]
eigenvalues  (25.7157, 82.2843)
point type   minimum (∇f = 0 and every eigenvalue of the Hessian > 0)
"""


LISTED = {"problems": PROBLEMS, "methods": METHODS, "schedules": SCHEDULES, "criteria": CRITERIA}


@pytest.mark.parametrize("argv, not_imported", [pytest.param(argv, names, id=" ".join(argv)) for argv, names in [
    *((argv, ("jax",)) for argv in (["--help"], ["--version"], ["list", "experiments"], ["verify", "VERIFY"])),
    *((["list", which], ("jax", "optax", "pandas", "matplotlib")) for which in LISTED),
    (["point", "himmelblau", "3", "2"], ("pandas", "hydra", "matplotlib")),
]])
def test_commands_import_only_what_they_need_and_print_the_same(argv, not_imported, tmp_path, capsys):
    """`gdlab --help`, `--version`, `list …` and `verify` answer without importing JAX (about 1.5 s of its own),
    and `gdlab point` without pandas, Hydra or the sweep layer: the package imports its names on first use,
    and the registries import JAX and optax when an entry is first evaluated. Each prints in a fresh
    interpreter exactly what it prints with everything imported."""
    if "VERIFY" in argv:
        sw = validate({"problems": ["himmelblau"], "starts": {"kind": "grid", "n": 2}, "max_iter": 50,
                       "out_dir": str(tmp_path)})
        argv = ["verify", str(run_to_folder(sw, log=lambda m: None, show_progress=False))]
    code = ("import sys, contextlib, io, json\nfrom gdlab.app.cli import main\nsys.argv = ['gdlab', *sys.argv[1:]]\n"
            "out = io.StringIO()\ntry:\n    with contextlib.redirect_stdout(out):\n        main()\n"
            "except SystemExit as exc:\n    code = exc.code\n"
            f"print(json.dumps([code, [m for m in {list(not_imported)} if m in sys.modules], out.getvalue()]))")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    exit_code, imported, printed = json.loads(done.stdout)
    assert (exit_code, imported) == (0, []), done.stdout
    from gdlab.app.cli import main
    capsys.readouterr()
    with pytest.raises(SystemExit) as in_process:
        main(argv)
    assert in_process.value.code == 0
    assert printed == capsys.readouterr().out != ""
    if argv[0] == "point":
        assert printed == HIMMELBLAU_AT_3_2
    if argv[0] == "list" and argv[1] != "experiments":
        assert [line.split()[0] for line in printed.splitlines()] == LISTED[argv[1]].names()


def test_every_public_name_resolves_and_its_annotations_too():
    """Every name in the ``__all__`` of gdlab and of each of its layers is there (they are imported on
    first use, from the module their package names), and typing.get_type_hints (documentation tools,
    validators) resolves the annotations of each and of their public methods."""
    import importlib
    import typing
    unresolved = []
    layers = ["gdlab", *(f"gdlab.{layer}" for layer in ("core", "engine", "tables", "storage", "runner", "report",
                                                         "lessons"))]
    names = [(mod, name) for mod in layers for name in importlib.import_module(mod).__all__]
    for mod, name in names:
        obj = getattr(importlib.import_module(mod), name)
        methods = [getattr(obj, m) for m in dir(obj) if not m.startswith("_")] if isinstance(obj, type) else []
        for target in (obj, *methods):
            if callable(target) and not isinstance(target, type(gdlab)):
                try:
                    typing.get_type_hints(target)
                except (NameError, TypeError) as exc:
                    unresolved.append(f"{mod}.{name}: {getattr(target, '__name__', target)}: {exc}")
    assert unresolved == []


def test_a_sweep_without_its_report_imports_no_matplotlib(tmp_path):
    """`gdlab … report.build=false` (and a shard that is not the last) runs and files its sweep without
    importing matplotlib or the report's modules: they load once a report is drawn."""
    code = ("import sys\nfrom gdlab.app.cli import main\nsys.argv = ['gdlab', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print([m for m in ('matplotlib', 'gdlab.report.page', 'gdlab.lessons') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code, f"out_dir={tmp_path}", "name=lean",
                           "starts={kind: grid, n: 3}", "max_iter=50", "report.build=false"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    assert "report: not built (report.build=false)" in done.stdout + done.stderr
    assert len(list((tmp_path / "lean").glob("*/runs/part-*.parquet"))) == 1


def test_import_gdlab_is_lazy_and_still_sets_one_cpu_device_per_core():
    code = ("import sys, os\nimport gdlab\nlazy = 'jax' not in sys.modules\nsweep = gdlab.sweep\n"
            "import jax\nfrom gdlab.engine.devices import usable_cores\n"
            "print(lazy, callable(sweep), jax.local_device_count() == usable_cores(), 'sweep' in dir(gdlab))")
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES", "GDLAB_CPU_DEVICES")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.stdout.split() == ["True", "True", "True", "True"], done.stderr


def test_get_problem_takes_a_name_an_expression_or_a_mapping():
    assert gdlab.get_problem("rastrigin", 3).dim == 3
    assert gdlab.get_problem({"name": "rastrigin", "dim": 4}).dim == 4
    assert gdlab.get_problem({"name": "rastrigin"}, 5).dim == 5
    bowl = gdlab.get_problem({"name": "bowl", "expr": "(x - 1)**2 + y**2", "domain": [[-2, 2], [-2, 2]],
                              "minima": [[1, 0]]})
    assert (bowl.name, bowl.dim, bowl.minima) == ("bowl", 2, ((1.0, 0.0),))
    assert gdlab.get_problem("x**2 + y**2 + z**2").dim == 3
    with pytest.raises(gdlab.ProblemError, match="sets its own dimension"):
        gdlab.get_problem("x**2", 3)


def test_a_problem_may_know_its_best_value_alone():
    """f_min without minima: f − f* is known (targets, the ECDF, polyak's f*), the distance is not."""
    spec = {"name": "q", "expr": "x**4 - 3*x**2 + x", "domain": [[-3, 3]], "f_min": [-3.5]}
    r = gdlab.descend(spec, "gd", [[-2.0], [2.0]], alpha=0.01, criterion="grad", epsilon=1e-8)
    np.testing.assert_allclose(r.runs["f_gap"], r.runs["f_final"] + 3.5, rtol=0, atol=1e-12)
    assert r.runs["min_id"].tolist() == [-1, -1] and r.runs["dist_to_min"].isna().all()
    assert gdlab.descend(spec, "polyak", [[-2.0]], alpha=0.1).runs["f_min"].tolist() == [-3.5]
    with pytest.raises(gdlab.ProblemError, match="or f\\* alone"):
        gdlab.get_problem({**spec, "f_min": [-3.5, -1.0]})


def test_the_storage_layer_keeps_its_function_names_after_its_modules_are_imported():
    code = ("import gdlab, gdlab.storage.load, gdlab.storage.verify\nfrom gdlab.storage import load, verify\n"
            "print(callable(load) and callable(verify) and callable(gdlab.load))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True", done.stderr


@pytest.mark.parametrize("command", ["point", "verify", "list", "report"])
def test_each_command_has_its_own_help(command, capsys):
    from gdlab.app.cli import main
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith(f"usage: gdlab {command} ")
    from gdlab.app.commands import help_text
    assert f"gdlab {command} " in help_text()


def test_a_lazy_module_read_by_several_threads_at_once_waits_for_its_import():
    """A sweep compiles its next kernel on a thread while it runs one: both read optax through a lazy
    module, and one found it half imported by the other ("partially initialized module 'optax' has
    no attribute 'sgd'")."""
    code = ("import threading\nfrom gdlab._lazy import lazy_module\noptax = lazy_module('optax')\nerrors = []\n"
            "def read():\n    try:\n        optax.sgd\n    except Exception as exc:\n        errors.append(repr(exc))\n"
            "threads = [threading.Thread(target=read) for _ in range(4)]\n[t.start() for t in threads]\n"
            "[t.join() for t in threads]\nprint(errors)")
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_lazy_module_imports_on_first_read_and_copies_as_itself():
    import copy
    import pickle

    from gdlab._lazy import lazy_module
    name = "gdlab_test_lazy_target"
    assert name not in sys.modules
    lazy = lazy_module("json")
    assert copy.copy(lazy) is lazy and copy.deepcopy(lazy) is lazy
    assert pickle.loads(pickle.dumps(lazy)).dumps([1, 2]) == "[1, 2]"
    with pytest.raises(AttributeError, match="read-only"):
        lazy.dumps = None
    missing = lazy_module(name)                      # nothing is imported until an attribute is read
    with pytest.raises(ModuleNotFoundError, match=name):
        missing.anything
