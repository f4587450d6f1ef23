"""Reliability (issue 6): honest statuses, durable parts, locks, clear errors."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gdlab
from gdlab.core.criteria import stop_rules
from gdlab.core.errors import FolderError
from gdlab.core.problems import get_problem
from gdlab.engine import EngineOptions, run_batch
from gdlab.runner.execute import run_to_folder
from gdlab.runner.schema import validate
from gdlab.storage.folder import SweepFolder
from gdlab.storage.load import load
from gdlab.storage.verify import verify

ROOT = Path(__file__).resolve().parent.parent
QUIET = dict(log=lambda m: None, show_progress=False)


def cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)
    return subprocess.Popen([sys.executable, "-m", "gdlab", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_nan_never_fires_a_rule():
    # log(x) from 0.5 with alpha 1 jumps to -1.5, where f is nan; rules with a huge epsilon would
    # fire on any finite step, and must not fire on that one
    bad = {"name": "log", "expr": "log(x)", "domain": [[0.1, 2]]}
    r = gdlab.descend(bad, "gd", [0.5], alpha=1.0, criterion=["dx", "df", "grad"], epsilon=1e9, min_steps=1)
    assert r.runs["status"][0] == "nonfinite" and r.runs["n_iter"][0] == 1
    assert not r.stops["fired"].any()
    cone = gdlab.descend("cone", "gd", [[1.0, 8.0]], alpha=0.1, criterion=["dx", "df", "grad"], epsilon=1e9)
    assert cone.runs["status"][0] == "invalid_start" and not cone.stops["fired"].any()


def test_a_kink_is_reported_as_cycling(tmp_path):
    """gd on |x| bounces across 0 for ever: status max_iter, and the report says it is cycling at a kink."""
    absx = {"name": "absx", "expr": "abs(x)", "domain": [[-1, 1]], "minima": [[0]]}
    sw = validate({"problems": [absx], "starts": {"kind": "points", "points": [[0.3], [0.25]]}, "alpha": [0.1],
                   "criterion": ["dx", "grad"], "epsilon": [1e-6], "max_iter": 300, "dtype": "float64",
                   "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, **QUIET)
    assert (load(folder).runs["status"] == "max_iter").all()
    from gdlab.report.page import build
    logs = []
    build(folder, log=logs.append)
    cycling = [m for m in logs if "cycling, not converging" in m]
    assert cycling and cycling[0].startswith("warning: 2 max_iter runs are cycling") and "not differentiable" in cycling[0]
    assert "cycling, not converging" in (folder / "report" / "index.html").read_text()


def test_divergence_step_and_the_rest_of_the_batch_untouched():
    p = get_problem("ravine")          # L = 100: alpha above 2/L = 0.02 diverges
    x0 = np.random.default_rng(3).uniform(-10, 10, (600, 2))
    alpha = np.where(np.arange(600) % 3 == 0, 0.03, 0.005)
    rules = stop_rules("grad", 1e-8)
    opts = EngineOptions(max_iter=5000, dtype="float64", lanes=64, part=128)
    batch = run_batch(p, "gd", x0, alpha, rules, opts)
    big = alpha > 0.02
    assert (batch["status"][big] == 3).all() and (batch["status"][~big] == 1).all()
    # |x| grows by |1 - 0.03·100| = 2 per step on the stiff axis: past 1e8 within ~30 steps
    assert (batch["k"][big] < 60).all() and (batch["k"][big] > 10).all()
    for i in np.flatnonzero(~big)[:8]:
        alone = run_batch(p, "gd", x0[i:i + 1], alpha[i], rules, opts)
        for key in ("x", "f", "k", "fired"):
            np.testing.assert_array_equal(batch[key][i], alone[key][0])


def test_unbounded_below_never_converges_except_at_its_saddle():
    r = gdlab.sweep({"problems": ["saddle_3x2_2xy"], "starts": {"kind": "grid", "n": 9}, "alpha": [0.01, 0.05],
                     "max_iter": 3000, "dtype": "float64", "traces": 0})
    x0 = gdlab.points(r.runs["x0"])
    at_origin = (x0 == 0).all(axis=1)
    assert (r.runs.loc[~at_origin, "status"] != "converged").all()
    assert (r.runs.loc[at_origin, "status"] == "converged").all()
    assert (r.runs.loc[at_origin, "point_type"] == "saddle").all()


def test_float32_warns_about_an_unresolvable_epsilon_and_float64_works(tmp_path):
    base = {"problems": ["himmelblau"], "starts": {"kind": "grid", "n": 6}, "criterion": ["grad"],
            "epsilon": [1e-9], "max_iter": 600, "out_dir": str(tmp_path)}
    from gdlab.report.page import build
    logs = []
    f32 = run_to_folder(validate(base), **QUIET)
    build(f32, log=logs.append)
    warned = [m for m in logs if "float32 cannot resolve" in m]
    assert warned and "grad < 1e-09" in warned[0] and "float64" in warned[0]
    assert "float32 cannot resolve" in (f32 / "report" / "index.html").read_text()
    logs.clear()
    f64 = run_to_folder(validate({**base, "dtype": "float64"}), **QUIET)
    build(f64, log=logs.append)
    assert not [m for m in logs if "cannot resolve" in m]
    assert (load(f64).runs["status"] == "converged").all()


def test_same_config_twice_gives_identical_tables(tmp_path):
    cfg = {"problems": ["rosenbrock", "six_hump_camel"], "method": ["gd", "adam"], "alpha": [1e-3],
           "starts": {"kind": "uniform", "n": 300, "seed": 9}, "max_iter": 400, "part_size": 250}
    a = load(run_to_folder(validate({**cfg, "out_dir": str(tmp_path / "a")}), **QUIET))
    b = load(run_to_folder(validate({**cfg, "out_dir": str(tmp_path / "b")}), **QUIET))
    for t in ("runs", "stops", "curves", "traces"):
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t))


def test_verify_names_the_damage(tmp_path):
    folder = run_to_folder(validate({"problems": ["booth"], "starts": {"kind": "grid", "n": 10}, "part_size": 30,
                                     "max_iter": 200, "out_dir": str(tmp_path)}), **QUIET)
    assert verify(folder) == []
    runs1 = folder / "runs" / "part-00001.parquet"
    data = bytearray(runs1.read_bytes())
    data[len(data) // 2] ^= 0xFF
    runs1.write_bytes(bytes(data))
    (folder / "stops" / "part-00002.parquet").unlink()
    curves = folder / "curves" / "part-00000.parquet"
    curves.write_bytes(curves.read_bytes()[:100])
    damage = verify(folder)
    assert any(d.startswith("runs/part-00001.parquet: sha256") for d in damage)
    assert any(d == "stops/part-00002.parquet: missing" for d in damage)
    assert any(d.startswith("curves/part-00000.parquet: sha256") for d in damage)
    res = subprocess.run([sys.executable, "-m", "gdlab", "verify", str(folder)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 1 and "runs/part-00001.parquet" in res.stdout


def test_a_folder_with_another_config_is_refused(tmp_path):
    sw = validate({"problems": ["booth"], "starts": {"kind": "grid", "n": 4}, "out_dir": str(tmp_path)})
    folder = run_to_folder(sw, **QUIET)
    text = (folder / "config.yaml").read_text().replace("max_iter: 10000", "max_iter: 5")
    (folder / "config.yaml").write_text(text)
    with pytest.raises(FolderError, match=r"different config \(changed: max_iter\)"):
        run_to_folder(sw, **QUIET)


def test_an_unwritable_results_folder_fails_before_compute(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    p = cli(f"out_dir={blocker}/results", "method=[gd]", "starts.n=4")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert "cannot write to the results folder" in err and "runs in" not in err


def _first_part(folder_glob, deadline):
    while time.time() < deadline:
        found = list(folder_glob())
        if found:
            return found
        time.sleep(0.05)
    return []


LONG = ["method=[gd]", "alpha=[0.0005]", "starts.kind=uniform", "starts.n=60000", "part_size=2000",
        "criterion=[grad]", "epsilon=[1e-12]", "dtype=float64", "max_iter=3000", "traces=0"]


@pytest.mark.slow
def test_ctrl_c_keeps_finished_parts_and_exits_130(tmp_path):
    p = cli(f"out_dir={tmp_path}", *LONG)
    found = _first_part(lambda: tmp_path.glob("default/*/parts/part-*.json"), time.time() + 120)
    assert found, "no part finished in time"
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:   # pressed again, as a user would, if the first one was not seen yet
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-1000:]
    assert "run the same command again to resume" in err
    folder = found[0].parent.parent
    for rec in (folder / "parts").glob("*.json"):       # every recorded part is whole
        for f in json.loads(rec.read_text())["files"].values():
            assert (folder / f["file"]).exists()


@pytest.mark.slow
def test_a_second_process_waits_for_the_lock(tmp_path):
    # find the command's folder by running it once, then hold its lock and start it again
    first = cli(f"out_dir={tmp_path}", "method=[gd]", "alpha=[0.01]", "starts.n=6", "max_iter=300")
    out, _ = first.communicate(timeout=120)
    folder = SweepFolder(out.strip().splitlines()[-1].removeprefix("results: "))
    with folder.lock("shard-0-of-1"):
        second = cli(f"out_dir={tmp_path}", "method=[gd]", "alpha=[0.01]", "starts.n=6", "max_iter=300")
        time.sleep(8)
        assert second.poll() is None, "the second process must wait while the lock is held"
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0 and "waiting for another gdlab process" in err


def resumed_or_complete(log: str) -> bool:
    return "parts already done" in log or "parts of this shard are already complete" in log


@pytest.mark.slow
def test_kill_9_five_times_then_resume(tmp_path):
    """200,000 runs killed with SIGKILL five times, then resumed: the uninterrupted tables.

    The first kill lands mid-sweep for certain (after the third stored part); the other four at
    random moments (start-up, compiling, computing, writing)."""
    args = ["method=[gd]", "alpha=[0.002,0.004]", "starts.kind=uniform", "starts.n=100000", "part_size=10000",
            "criterion=[df,grad]", "epsilon=[1e-8]", "max_iter=1500", "traces=1", "dtype=float64"]
    whole = cli(f"out_dir={tmp_path / 'whole'}", *args)
    out, err = whole.communicate(timeout=600)
    assert whole.returncode == 0, err[-2000:]
    whole_folder = Path(out.strip().splitlines()[-1].removeprefix("results: "))
    n_parts = len(list((whole_folder / "parts").glob("part-*.json")))
    rng = random.Random(7)
    killed_folder = tmp_path / "killed" / "default" / whole_folder.name
    kills = 0
    from gdlab.storage.folder import file_sha256
    for i in range(5):
        p = cli(f"out_dir={tmp_path / 'killed'}", *args)
        if i == 0:
            _first_part(lambda: [1] if len(list((killed_folder / "parts").glob("part-*.json"))) >= 3 else [],
                        time.time() + 120)
        else:
            time.sleep(rng.uniform(2.5, 7.0))   # JAX start-up takes a few seconds (kernels come from the cache)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        out, err = p.communicate()
        if p.returncode != -signal.SIGKILL:   # it finished before its kill, resuming what the kills left
            assert p.returncode == 0 and resumed_or_complete(err), err[-2000:]
        done = list((killed_folder / "parts").glob("part-*.json"))
        if i == 0:
            assert 3 <= len(done) < n_parts, f"the first kill should land mid-sweep, {len(done)} parts were done"
        for rec in done:   # whatever a kill left, only whole parts are data: their files match their sha256
            for f in json.loads(rec.read_text())["files"].values():
                assert file_sha256(killed_folder / f["file"]) == f["sha256"]
    assert kills >= 3
    resumed = cli(f"out_dir={tmp_path / 'killed'}", *args)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-2000:]
    # the resume computes what is left, or, if a process above got to the end, finds nothing left
    assert resumed_or_complete(err)
    a, b = load(whole_folder), load(killed_folder)
    assert b.runs["run_id"].is_unique and len(b.runs) == 200_000 and len(b.traces) > 0
    assert not list(killed_folder.rglob(".*.tmp-*"))   # the resumed run cleared what the kills left
    for t in ("runs", "stops", "curves", "traces"):
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t))
    assert verify(killed_folder) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 300 KiB tmpfs (needs root, as on CI's machines); skipped where mounting is not allowed."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_full_disk_is_a_clear_error_and_no_part_is_half_data(tiny_disk):
    p = cli(f"out_dir={tiny_disk}", "method=[gd]", "starts.kind=uniform", "starts.n=20000", "part_size=500",
            "max_iter=300", "traces=0")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 1
    assert "No space left on device" in err and "run the same command again to resume" in err
    # the first part written told what the rest would take, before the disk filled
    assert "more on disk than the" in err and "keeping the parts finished" in err, err
    from gdlab.storage.folder import file_sha256
    [folder] = list((tiny_disk / "default").iterdir())
    for rec in SweepFolder(folder).records().values():
        for f in rec["files"].values():
            assert file_sha256(folder / f["file"]) == f["sha256"]
    assert not list(folder.rglob(".*.tmp-*"))
