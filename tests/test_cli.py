"""The command end to end: results folder, resume after kill -9, shards, devices, verify, bad configs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
import yaml

import gdlab
from gdlab.core.criteria import stop_rules
from gdlab.core.problems import get_problem
from gdlab.engine import EngineOptions, run_batch
from gdlab.runner.execute import run_to_folder
from gdlab.runner.schema import validate
from gdlab.storage.load import load

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["method=[gd]", "alpha=[0.01]", "starts.n=6", "max_iter=500", "traces=1"]


def gdlab_cmd(*args, timeout=300, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)
    return subprocess.run([sys.executable, "-m", "gdlab", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=kw.get("cwd", ROOT), env=env)


def test_command_writes_the_sweep_folder_and_resumes(tmp_path):
    out = tmp_path / "результаты"      # (a plain value of letters beyond Latin, unquoted: quoted for Hydra)
    first = gdlab_cmd(f"out_dir={out}", *SMALL)
    assert first.returncode == 0, first.stderr
    last = first.stdout.strip().splitlines()[-1]
    assert last.startswith("results: ")
    folder = Path(last.removeprefix("results: "))
    assert folder.parent == out / "default" and len(folder.name) == 12
    for name in ("config.yaml", "manifest.json", "runs", "stops", "curves", "traces"):
        assert (folder / name).exists(), name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["n_runs"] == 36
    assert 0 < manifest["lane_utilisation"] <= 1
    r = load(folder)
    assert len(r.runs) == 36 and r.runs["run_id"].tolist() == list(range(36))
    assert len(r.stops) == 36 * 6
    again = gdlab_cmd(f"out_dir={out}", *SMALL)
    assert again.returncode == 0
    assert "already complete" in again.stderr
    assert again.stdout.strip().splitlines()[-1] == last
    ok = gdlab_cmd("verify", str(folder))
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")
    changed = gdlab_cmd(f"out_dir={out}", *SMALL[:-1], "traces=2")
    assert changed.stdout.strip().splitlines()[-1] != last      # a changed config gets a new folder


def test_bad_config_exits_2_names_every_key_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    bad = gdlab_cmd(f"out_dir={out}", "foo=1", "alpha=[0.1,-1]", "epsilon=[]", "max_iter=0",
                    "method=[gd,warp]", "problems=[himmelblau,nope]", "max_iter=abc",
                    "starts={kind:points,points:[[1,2,3]]}")
    assert bad.returncode == 2
    for piece in ["foo: unknown key", "alpha: must be a number > 0", "epsilon: empty list", "max_iter: must be an integer",
                  "method: must be one of", "unknown problem 'nope'", "is not of dimension 2"]:
        assert piece in bad.stderr, piece
    assert not out.exists()
    # an unknown key of a mapping reaches the validator too (Hydra alone stops at the first, with a trace hint)
    nested = gdlab_cmd(f"out_dir={out}", "starts.sed=3", "engine.lane=64", "alpah=[0.1]")
    assert nested.returncode == 2
    for piece in ["starts.sed: unknown key (did you mean 'seed'?)", "engine.lane: unknown key (did you mean 'lanes'?)",
                  "alpah: unknown key (did you mean 'alpha'?)"]:
        assert piece in nested.stderr, piece
    assert "HYDRA_FULL_ERROR" not in nested.stderr
    # a key Hydra's grammar cannot read (its lexer error named none) is named, with the key meant
    letters = gdlab_cmd(f"out_dir={out}", "α=0.1", "шаг=2", "~γ", "=5", "ε:1e-3")
    assert letters.returncode == 2 and "HYDRA_FULL_ERROR" not in letters.stderr and "Traceback" not in letters.stderr
    for piece in ["α: unknown key (did you mean 'alpha'?); keys are written in Latin letters", "шаг: unknown key;",
                  "γ: unknown key (did you mean 'momentum'?)", "=5: no key before '='",
                  "ε:1e-3: unknown key (did you mean 'epsilon'?)"]:
        assert piece in letters.stderr, piece
    # letters beyond Latin inside a list or mapping must be quoted there: the key is named
    inner = gdlab_cmd(f"out_dir={out}", "problems=[{name: чаша, expr: 'x**2 + y**2'}]")
    assert inner.returncode == 2 and "HYDRA_FULL_ERROR" not in inner.stderr
    assert "problems: Hydra reads characters beyond ASCII only inside quotes here" in inner.stderr
    nope = gdlab_cmd(f"out_dir={out}", "experiment=does_not_exist")
    assert nope.returncode == 2 and "does_not_exist" in nope.stderr
    assert not out.exists()


@pytest.mark.parametrize("given, text", [
    ("/tmp/тест", "/tmp/тест"), (" /tmp/тест ", "/tmp/тест"),              # Hydra drops the spaces around
    ("мой опыт", "мой опыт"), (r"C:\Users\Émile\runs", r"C:\Users\Émile\runs"),
    (r"/tmp/мои\ данные", "/tmp/мои данные"), (r"/tmp/a\=б", "/tmp/a=б"),   # Hydra's escapes, undone
    (r"/tmp/a\,б", "/tmp/a,б"), ("C:\\\\тест\\\\", "C:\\тест\\"), ("C:\\тест\\\\", "C:\\тест\\"),
    ("/tmp/ascii", "/tmp/ascii"), ("'/tmp/тест'", "/tmp/тест")])
def test_a_value_in_another_alphabet_is_read_as_hydra_reads_it_unquoted(given, text):
    """A value of one word or path with characters beyond ASCII is quoted for Hydra (whose grammar
    reads them only inside quotes) so that it means what the same value in ASCII letters would."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from gdlab.runner.experiments import plus_unknown
    override = plus_unknown([f"out_dir={given}"])[0]
    assert OverridesParser.create().parse_override(override).value() == text


@pytest.mark.parametrize("value", ["[{name: чаша}]", "/tmp/а,/tmp/б", "str(/tmp/тест)", "${oc.env:HOME}/тест",
                                   "'/tmp/a'тест"])
def test_unquoted_characters_beyond_ascii_in_a_list_a_sweep_or_a_call_are_named(value):
    from gdlab.core.errors import ConfigError
    from gdlab.runner.experiments import plus_unknown
    with pytest.raises(ConfigError, match="out_dir: Hydra reads characters beyond ASCII only inside quotes here"):
        plus_unknown([f"out_dir={value}"])


def _tables(folder):
    r = load(folder)
    return [r.runs, r.stops, r.curves, r.traces]


def test_four_shards_give_the_union_of_one(tmp_path):
    cfg = {"problems": ["himmelblau", "booth"], "method": ["gd", "momentum"], "alpha": [0.01],
           "starts": {"kind": "uniform", "n": 700, "seed": 2}, "max_iter": 800, "part_size": 300,
           "out_dir": str(tmp_path / "a")}
    one = run_to_folder(validate(cfg), log=lambda m: None, show_progress=False)
    for i in range(4):
        four = run_to_folder(validate({**cfg, "out_dir": str(tmp_path / "b"), "shard": {"index": i, "count": 4}}),
                             log=lambda m: None, show_progress=False)
    assert one.name == four.name
    manifest = json.loads((four / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["runs_by_shard"]) == 4
    for a, b in zip(_tables(one), _tables(four)):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_submitit_local_runs_four_shards_as_processes(tmp_path):
    out = tmp_path / "sh"
    res = gdlab_cmd("-m", f"out_dir={out}", "part_size=200", *SMALL[:-2], "starts.n=30", "max_iter=300",
                    "shard.index=0,1,2,3", "shard.count=4", "hydra/launcher=submitit_local", timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    [folder] = [p for p in (out / "default").iterdir() if not p.name.startswith(".")]
    r = load(folder)
    assert r.runs["run_id"].tolist() == list(range(900))
    shards = {json.loads(p.read_text())["shard"] for p in (folder / "parts").glob("*.json")}
    assert shards == {f"shard-{i}-of-4" for i in range(4)}
    # the report is built once the last shard completes the sweep, over all shards' parts
    summary = pd.read_csv(folder / "report" / "tables" / "summary.csv")
    assert summary["runs"].sum() == 900 * 6


def test_the_batch_is_split_over_local_devices():
    from gdlab.engine import stream_batch
    devices = jax.local_devices()
    assert len(devices) == 2, "conftest asks XLA for two host devices"
    p = get_problem("rosenbrock")
    x0 = np.random.default_rng(1).uniform(-2, 2, (3000, 2))
    opts = EngineOptions(max_iter=400, dtype="float64", lanes=256, part=512)
    rules = stop_rules(["df", "grad"], [1e-8])
    both = run_batch(p, "gd", x0, 1e-3, rules, opts)        # all local devices: the default
    with pytest.raises(ValueError, match="enable_x64"):
        next(stream_batch(p, "gd", x0, 1e-3, rules, opts))
    with jax.enable_x64(True):
        parts = list(stream_batch(p, "gd", x0, 1e-3, rules, opts, devices=devices[:1]))
    merged = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
    order = np.argsort(merged["run"])
    for key in ("x", "f", "k", "status", "fired"):
        np.testing.assert_array_equal(both[key], merged[key][order], err_msg=key)


def test_ctrl_c_in_gdlab_report_says_how_to_finish_and_exits_130(tmp_path, monkeypatch, capsys):
    import gdlab.report as report
    from gdlab.app import cli

    def interrupted(folder, log, **sections):
        raise KeyboardInterrupt
    monkeypatch.setattr(report, "build", interrupted)
    with pytest.raises(SystemExit) as exit_:
        cli.report_main([str(tmp_path)])
    assert exit_.value.code == cli.EXIT_INTERRUPTED == 130
    assert f"run gdlab-report {tmp_path} again" in capsys.readouterr().err


def test_a_figure_worker_ends_quietly_when_its_caller_goes_mid_job():
    """The caller exiting (Ctrl-C) while it hands a figure over leaves the worker a cut pickle:
    it ends without a traceback, as it does when its input closes."""
    import pickle

    from gdlab.report import render, workers
    job = pickle.dumps(("figure", {}, "/nowhere", "f"))
    for given in (b"", job[: len(job) // 2]):
        done = subprocess.run([sys.executable, "-c", workers._BOOT + workers._END, str(Path(render.__file__).parent)],
                              input=given, capture_output=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    # and it loads matplotlib, not JAX or the engine (gdlab's __init__ would)
    done = subprocess.run([sys.executable, "-c", workers._BOOT + "; print(sorted({'jax', 'pandas', 'matplotlib'} & "
                           "set(sys.modules)), file=sys.stderr)", str(Path(render.__file__).parent)],
                          input=b"", capture_output=True, timeout=60)
    assert done.stderr.decode().strip() == "['matplotlib']"


@pytest.mark.parametrize("command, status, out, err", [
    ("print('done')", 0, "done", ""),
    ("sys.exit(3)", 3, "", ""),
    ("sys.exit('no such folder')", 1, "", "no such folder"),
    ("print('said'); print('warned', file=sys.stderr); sys.exit(None)", 0, "said", "warned"),
])
def test_a_command_ends_its_process_with_its_status_and_its_output_flushed(command, status, out, err):
    """The gdlab commands end their process as they return, without Python's shutdown (0.3–0.7 s
    after their last line): the status is the command's, and what it printed to the pipes is there."""
    program = f"import sys\nfrom gdlab.app.cli import _ended\n_ended(lambda: exec({command!r}))\nprint('not reached')"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (status, out, err)


@pytest.mark.parametrize("args", [["--help"], ["list", "problems"]])
def test_a_command_whose_reader_left_ends_quietly_as_sigpipe_ends_a_program(args):
    """``gdlab --help | head -1``: where the reader of the output has gone before the command writes,
    the command ends with 141 (128 + SIGPIPE), as a shell reports of such a program, and no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "gdlab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()          # before the command (0.1 s to start) writes a byte
    err = proc.stderr.read().decode()
    assert (proc.wait(timeout=120), err) == (141, "")


@pytest.mark.parametrize("args", [["report", "{tmp}/nope"], ["verify", "{tmp}/nope"], ["report", "{tmp}/a_file"],
                                  ["verify", "{tmp}/a_file"]])
def test_a_folder_that_is_not_there_is_called_missing(tmp_path, args):
    (tmp_path / "a_file").write_text("not a sweep")
    done = gdlab_cmd(*[a.format(tmp=tmp_path) for a in args], timeout=120)
    says = "does not exist" if args[1].endswith("nope") else "is a file"
    assert done.returncode == 1 and f"{says}: give a sweep folder" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(gdlab.FolderError, match=says):
        gdlab.load(args[1].format(tmp=tmp_path))


def test_a_misspelt_problem_is_not_read_as_a_formula():
    """A name that is no variable (x2_sn is neither x2 nor x2_sin) is an unknown problem with the closest
    name, on the command line and in Python; x2 alone is the expression in x1, x2."""
    done = gdlab_cmd("point", "x2_sn", "2.5", timeout=120)
    assert done.returncode == 2 and "unknown problem 'x2_sn' (did you mean 'x2_sin'?)" in done.stderr
    with pytest.raises(gdlab.UnknownNameError, match="did you mean 'x2_sin'"):
        gdlab.descend("x2_sn", "gd", [2.5], alpha=0.01)
    assert gdlab.get_problem("x2").dim == 2
    for constant in ("pi", "e"):          # a constant alone is no problem either
        with pytest.raises(gdlab.UnknownNameError, match=f"unknown problem '{constant}'"):
            gdlab.get_problem(constant)


def test_a_bad_figure_worker_count_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    from gdlab.app import cli
    from gdlab.core.errors import ConfigError
    from gdlab.runner.schema import DEFAULTS
    monkeypatch.setenv("GDLAB_FIGURE_WORKERS", "two")
    with pytest.raises(ConfigError, match="GDLAB_FIGURE_WORKERS must be a whole number"):
        cli.run({**DEFAULTS, "out_dir": str(tmp_path)})
    assert not list(tmp_path.iterdir())                     # nothing written
    with pytest.raises(SystemExit) as exit_:
        cli.report_main([str(tmp_path)])
    assert exit_.value.code == cli.EXIT_BAD_CONFIG and "GDLAB_FIGURE_WORKERS" in capsys.readouterr().err


def test_a_target_in_the_working_folder_is_found_by_the_gdlab_command(tmp_path):
    """The console script's path does not hold the working folder (python -m's does): gdlab looks there."""
    (tmp_path / "myfuncs.py").write_text("import jax.numpy as jnp\n\ndef bowl(x):\n    return jnp.sum((x - 1.0) ** 2)\n")
    script = Path(sys.executable).parent / "gdlab"
    if not script.exists():
        pytest.skip("no gdlab console script beside this interpreter")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
    done = subprocess.run([str(script), "problems=[{name: bowl, _target_: myfuncs.bowl, dim: 2, "
                           "domain: [[-3, 3], [-3, 3]], minima: [[1, 1]]}]", "starts.n=3", "max_iter=300",
                           f"out_dir={tmp_path / 'out'}", "traces=0"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    runs = load(done.stdout.strip().splitlines()[-1].removeprefix("results: ")).runs
    assert set(runs["problem"]) == {"bowl"} and runs["f_final"].min() < 1e-6


def test_a_sweep_of_ones_own_is_named_with_name_and_an_unknown_experiment_is_refused(tmp_path):
    out = tmp_path / "res"
    mine = gdlab_cmd(f"out_dir={out}", "name=mine", "starts.n=4", "max_iter=200", "traces=0")
    assert mine.returncode == 0, mine.stderr
    folder = Path(mine.stdout.strip().splitlines()[-1].removeprefix("results: "))
    assert folder.parent == out / "mine"
    # counts with their nouns: a sweep of 16 runs in one part
    assert "16 runs in 1 part (the sweep: 1 setting × 16 starts, a grid of 4 per axis" in mine.stderr + mine.stdout
    assert "resuming" not in mine.stderr + mine.stdout                  # a fresh start resumes nothing
    assert (folder / "report" / "index.html").exists()
    bare = gdlab_cmd(f"out_dir={out}", "name=tables_only", "starts.n=3", "max_iter=50", "traces=0",
                     "report.build=false")
    assert bare.returncode == 0, bare.stderr
    bare_folder = Path(bare.stdout.strip().splitlines()[-1].removeprefix("results: "))
    assert "report: not built (report.build=false)" in bare.stdout + bare.stderr
    assert (bare_folder / "manifest.json").exists() and not (bare_folder / "report").exists()
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert (config["experiment"], config["dtype"], config["method"], config["criterion"]) == \
        ("mine", "float32", ["gd"], ["dx", "df", "grad"])         # the schema's defaults, not the showcase's
    lesson = gdlab_cmd(f"out_dir={out}", "experiment=x2_sin", "name=x2_sin_again")
    assert lesson.returncode == 0, lesson.stderr
    config = yaml.safe_load((Path(lesson.stdout.strip().splitlines()[-1].removeprefix("results: ")) /
                             "config.yaml").read_text())
    assert (config["experiment"], config["alpha"], config["dtype"]) == ("x2_sin_again", [0.005, 0.0001], "float64")
    for bad, said in (("experiment=null", "'null' is no shipped experiment"),
                      ("experiment=x2_sn", "did you mean 'x2_sin'?"), ("name=a/b", "name: must be a name")):
        refused = gdlab_cmd(f"out_dir={tmp_path / 'never'}", bad)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert not (tmp_path / "never").exists()
