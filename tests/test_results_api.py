"""Results in a notebook: plot each figure kind, save as a sweep folder, report from Python."""

import json
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

import gdlab
from gdlab.core.errors import FolderError, InputError
from gdlab.report.plots import KINDS


@pytest.fixture(scope="module")
def himmelblau():
    """Two methods × two α on Himmelblau, a 5×5 grid of starts, two traced runs a setting."""
    return gdlab.sweep({"problems": ["himmelblau"], "method": ["gd", "momentum"], "alpha": [0.005, 0.01],
                        "momentum": [0.5], "criterion": ["df", "grad"], "epsilon": [1e-6],
                        "starts": {"kind": "grid", "n": 5}, "max_iter": 2000, "traces": 2, "dtype": "float64"})


def test_every_plot_kind_draws_its_artists(himmelblau):
    fig, axes = plt.subplots(2, 3)
    drawn = {kind: himmelblau.plot(kind, ax=ax, **({"method": "gd"} if kind == "heatmap" else {}))
             for kind, ax in zip(KINDS, axes.flat)}
    assert set(drawn) == {"curve", "bands", "ecdf", "heatmap", "basins", "rules"}
    assert all(drawn[k] is ax for k, ax in zip(KINDS, axes.flat))          # each on the ax it was given
    paths = [ln for ln in drawn["curve"].get_lines() if ln.get_color() == "tab:red" and ln.get_linestyle() == "-"]
    assert len(paths) == 4 * 2                               # 4 settings × 2 traced runs
    assert len(drawn["bands"].get_lines()) == 4             # a median line a setting
    assert len(drawn["ecdf"].get_lines()) == 4
    cells = drawn["heatmap"].images[0].get_array()
    assert cells.shape == (2, 1) and np.all((cells >= 0) & (cells <= 1))   # α × ε of gd, success rates
    assert sum(len(c.get_offsets()) for c in drawn["basins"].collections) == 25 * 4
    assert len(drawn["rules"].collections) == 2               # a color per criterion
    plt.close(fig)


def test_plot_refuses_what_it_cannot_draw_with_a_way_out(himmelblau):
    with pytest.raises(InputError, match="unknown plot kind 'band'.*did you mean 'bands'"):
        himmelblau.plot("band")
    with pytest.raises(InputError, match="pass method="):
        himmelblau.plot("heatmap")
    with pytest.raises(InputError, match="no problem 'rosenbrock'"):
        himmelblau.plot("bands", problem="rosenbrock")
    flat = gdlab.descend("rosenbrock", "gd", [[0.0, 0.0]], alpha=1e-3, max_iter=10)
    with pytest.raises(InputError, match="traces=1"):
        flat.plot("curve")
    with pytest.raises(InputError, match="no option xlm .*did you mean 'xlim'"):
        himmelblau.plot("curve", xlm=(0, 1))
    with pytest.raises(InputError, match="no runs of gd have both alpha and momentum"):
        himmelblau.plot("heatmap", method="gd", columns="momentum")
    two_rules = gdlab.descend("himmelblau", "gd", [[1.0, 1.0], [-1.0, 2.0]], alpha=[1e-3, 1e-2],
                              epsilon=[1e-6, 1e-3], min_steps=[0, 10], max_iter=100)
    with pytest.raises(InputError, match=r"min_steps also vary .*min_steps=0\)"):
        two_rules.plot("heatmap")
    ax = two_rules.plot("heatmap", min_steps=10)
    assert ax.images[0].get_array().shape == (2, 2)            # α × ε at min_steps 10

    plt.close("all")


def test_a_selection_of_one_problem_plots_without_naming_it(tmp_path):
    two = gdlab.sweep({"problems": ["himmelblau", "rosenbrock"], "method": ["gd"], "alpha": [1e-3],
                       "starts": {"kind": "uniform", "n": 4}, "max_iter": 200, "criterion": ["df"],
                       "epsilon": [1e-6], "dtype": "float64"})
    with pytest.raises(InputError, match="name one"):
        two.plot("bands")
    ax = two.where(problem="rosenbrock").plot("bands")
    assert "rosenbrock" in ax.get_title()
    plt.close("all")


def test_a_1d_run_that_comes_to_rest_far_from_its_start_is_drawn_whole():
    """An expression's domain in descend is the starts ± 1; a run that converges at 20 from 0 widens
    the view to every point it visited (only a run that runs away is cut at the edge)."""
    res = gdlab.descend("(x - 20)**2", "gd", [[0.0]], alpha=0.1, traces=1)
    assert res.runs["status"][0] == "converged"
    ax = res.plot("curve")
    lo, hi = ax.get_xlim()
    assert lo <= 0 and hi >= 19.99
    assert not [t for t in ax.texts if t.arrow_patch is not None]
    assert len(ax.collections[0].get_offsets()) == res.runs["n_iter"][0] + 1
    plt.close("all")


def test_save_writes_the_folder_the_command_would_and_load_gives_the_same_tables(himmelblau, tmp_path):
    folder = himmelblau.save(tmp_path / "sweep", report=False)
    assert folder == tmp_path / "sweep" and himmelblau.path == folder
    back = gdlab.load(folder)
    for table in ("runs", "stops", "curves", "traces"):
        assert getattr(back, table).equals(getattr(himmelblau, table)), table
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["n_runs"] == len(himmelblau.runs) == 100
    verify = subprocess.run([sys.executable, "-m", "gdlab", "verify", str(folder)], capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stdout.startswith("ok:")


def test_gdlab_report_of_results_saves_them_and_draws_the_page(tmp_path):
    res = gdlab.descend("x**4 - 3*x**2 + x", "gd", [[2.0], [-2.0]], alpha=[0.05, 0.2], traces=2,
                        out_dir=str(tmp_path))
    page = gdlab.report(res)
    assert page == res.path / "report" / "index.html" and page.exists()
    # the expression and its domain come back from config.yaml as the same problem
    again = gdlab.load(res.path)
    assert again.runs.equals(res.runs)
    figures = sorted(p.name for p in (res.path / "report" / "figures").glob("*.png"))
    assert any(f.startswith("x_4_-_3_x_2_x_") and f.endswith("-curve.png") for f in figures), figures
    assert gdlab.report(res.path) == page                    # a folder: its report again
    assert "the report" in res._repr_html_()


def test_gdlab_report_is_there_in_a_fresh_session(tmp_path):
    code = ("import gdlab\n"
            "res = gdlab.descend('x**2', 'gd', [[1.0]], max_iter=5, out_dir='out')\n"
            "print(gdlab.report(res).name, callable(gdlab.report), gdlab.report.build.__name__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["index.html", "True", "build"]


def test_save_of_a_mapping_config_files_it_where_the_command_would_and_keeps_inline_minima(tmp_path):
    """A config of names and mappings is saved as given: the same folder and id as the command's; an
    inline problem's minima (NumPy floats once resolved) are written as plain numbers."""
    from gdlab.runner.execute import sweep_folder
    from gdlab.runner.schema import validate
    config = {"problems": [{"name": "bowl", "expr": "(x - 1)**2 + 10*(y + 2)**2", "domain": [[-5, 5], [-5, 5]],
                            "minima": [[1, -2]]}, {"name": "rastrigin", "dim": 3}],
              "starts": {"kind": "uniform", "n": 6, "seed": 1}, "max_iter": 300, "dtype": "float64",
              "out_dir": str(tmp_path)}
    res = gdlab.sweep(config)
    folder = res.save(report=False)
    assert folder == sweep_folder(validate(config))
    back = gdlab.load(folder)
    assert back.runs.equals(res.runs) and back.stops.equals(res.stops)
    assert back.runs.loc[back.runs["problem"] == "bowl", "min_id"].ge(0).any()


def test_a_python_function_problem_cannot_be_saved_and_says_how(tmp_path):
    res = gdlab.descend(lambda x: (x ** 2).sum(), "gd", [[1.0, 2.0]], alpha=0.1, max_iter=5)
    with pytest.raises(FolderError, match="expression .* _target_ .*importable"):
        res.save(tmp_path / "f")
    assert not (tmp_path / "f" / "manifest.json").exists()


def test_save_into_a_folder_of_ones_own_files_is_refused_and_writes_nothing(himmelblau, tmp_path):
    """Results.save(path) into a folder that held the user's own report/index.html wrote over it."""
    mine = tmp_path / "notes"
    (mine / "report").mkdir(parents=True)
    (mine / "report" / "index.html").write_text("my page")
    with pytest.raises(FolderError, match=r"holds files and no gdlab sweep \(no config.yaml: report\); give a new or "
                                          r"empty folder \(nothing was written\)"):
        himmelblau.save(mine, log=None)
    assert sorted(p.name for p in mine.rglob("*")) == ["index.html", "report"]
    assert (mine / "report" / "index.html").read_text() == "my page"
    again = himmelblau.save(tmp_path / "sweep", report=False, log=None)      # a sweep folder takes its own again
    assert himmelblau.save(again, report=False, log=None) == again


def test_a_filtered_results_is_refused_rather_than_saved_short(himmelblau, tmp_path):
    import dataclasses
    part = dataclasses.replace(himmelblau, runs=himmelblau.runs.iloc[:10], path=None)
    with pytest.raises(FolderError, match="lack runs .* not a filtered copy"):
        part.save(tmp_path / "short")


def test_a_partial_mapping_in_python_merges_as_the_command_lines_dotted_keys_do():
    """``{"starts": {"n": 3}}`` changes n and keeps the kind (as ``starts.n=3``); a mapping of another
    kind replaces the starts."""
    from gdlab.runner.experiments import with_experiment
    from gdlab.runner.schema import validate
    sw = validate({"problems": ["himmelblau"], "starts": {"n": 3}})
    assert sw.starts["kind"] == "grid" and sw.starts["n"] == 3
    pts = validate(with_experiment({"experiment": "momentum", "starts": {"kind": "points", "points": [[1, 1]]}}))
    assert pts.starts["kind"] == "points" and pts.starts["points"] == [[1, 1]]


def test_where_keeps_the_chosen_runs_and_their_rows_of_every_table(himmelblau):
    one = himmelblau.where(method="momentum", alpha=[0.01])
    assert len(one.runs) == 25 and set(one.runs["method"]) == {"momentum"} and set(one.runs["alpha"]) == {0.01}
    ids = set(one.runs["run_id"])
    for table in ("stops", "curves", "traces"):
        assert set(getattr(one, table)["run_id"]) <= ids and len(getattr(one, table))
    assert len(one.stops) == 25 * 2 and one.path is None
    with pytest.raises(KeyError, match="no column 'alfa'"):
        himmelblau.where(alfa=0.01)
