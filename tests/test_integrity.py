"""Integrity: never a wrong number reported as right, every input bounded before it is computed,
damaged data never reused (each case here was once a wrong answer with exit 0, or a traceback)."""

import math
import re
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import gdlab
from gdlab.app.commands import point_main
from gdlab.core.expressions import parse_expression
from gdlab.runner.schema import validate


@pytest.mark.parametrize("problem, x, kind", [
    ("3*x", [0.5], "non_stationary"),          # ∇f = 3 and a zero Hessian: the Hessian says nothing, the slope does
    ("abs(x)", [1.0], "non_stationary"),
    ("x + y**2", [0.0, 0.0], "non_stationary"),
    ("cone", [1.0, 8.0], "undefined"),         # the tip: ∇f is nan there
    ("sqrt(x)", [0.0], "undefined"),
    ("x**4", [0.0], "degenerate"),
    ("himmelblau", [3.0, 2.0], "minimum"),
    ("saddle_3x2_2xy", [0.0, 0.0], "saddle"),
])
def test_a_point_type_is_never_claimed_where_the_slope_or_the_numbers_say_otherwise(problem, x, kind):
    assert gdlab.inspect_point(problem, x).point_type == kind


def test_a_converged_run_with_a_slope_is_non_stationary_in_the_runs_table():
    r = gdlab.descend({"name": "p", "expr": "3*x", "domain": [[-1, 1]]}, "gd", [0.5], alpha=0.01,
                      criterion=["dx", "df", "grad"], epsilon=10.0)
    [row] = r.runs.itertuples()
    assert row.status == "converged" and row.grad_norm_final == 3.0 and row.point_type == "non_stationary"


def test_gdlab_point_refuses_a_point_that_is_not_finite(capsys):
    assert point_main(["himmelblau", "nan", "nan"]) == 2
    assert "must be finite" in capsys.readouterr().err
    assert point_main(["abs(x)", "1"]) == 0
    assert "non_stationary" in capsys.readouterr().out


@pytest.mark.parametrize("text, says", [
    ("1" * 400 + "*x", "out of range"),
    ("-" * 2987 + "x", "nests deeper"),
    ("x99999999 + x1", "at most 10,000 variables"),
])
def test_an_expression_too_big_to_compute_is_refused_before_it_is(text, says):
    with pytest.raises(gdlab.ExpressionError, match=says):
        parse_expression(text)


@pytest.mark.parametrize("config, says", [
    ({"starts": {"kind": "uniform", "n": 10 ** 12}}, "starts: the sweep is 1,000,000,000,000 runs"),
    ({"problems": [{"name": "rastrigin", "dim": 100_000}]}, "dim must be a whole number in [1, 10,000], got 100000"),
    ({"engine": {"lanes": 10 ** 9}}, "engine.lanes: 1,000,000,000 lanes of"),
    ({"traces": 50_000, "max_iter": 20_000, "starts": {"kind": "grid", "n": 300}}, "traces: 50,000 full trajectories"),
    ({"max_iter": 2 ** 31}, "max_iter: must be an integer ≥ 1 and ≤ 2,147,483,646"),
    ({"min_steps": [3_000_000_000]}, "min_steps: must be an integer ≥ 0 and ≤ 2,147,483,646"),
    ({"part_size": 10 ** 9}, "part_size: a part of 1,000,000,000 runs takes about"),
])
def test_a_sweep_too_big_for_the_machine_is_a_config_error_naming_the_key_and_the_estimate(config, says):
    with pytest.raises(gdlab.ConfigError) as err:
        validate(config)
    assert says in str(err.value)


@pytest.mark.parametrize("config, says", [
    ({"starts": {"kind": "uniform", "n": 5, "seed": -1}}, "starts.seed: must be an integer ≥ 0, got -1"),
    ({"starts": {"kind": "uniform", "n": 5, "seed": True}}, "starts.seed: must be an integer ≥ 0, got True"),
    ({"engine": {"part": 10 ** 8}}, "engine.part: a call of 100,000,000 runs takes about"),
    ({"engine": {"part": 2 ** 31 - 1}}, "engine.part: must be an integer ≥ 1 and ≤ 2,147,483,646 or null"),
    ({"engine": {"chunk": 70_000}}, "engine.chunk: must be an integer ≥ 1 and ≤ 65,536 or null"),
    ({"min_steps": [10, 100], "max_iter": 50}, "min_steps: 100 is more than max_iter = 50, so no rule could ever"),
    ({"epsilon": [1, 1.0]}, "epsilon: 1 and 1.0 (one value) is listed twice; list each value once"),
    ({"alpha": [0.5, 1, 1.0]}, "alpha: 1 and 1.0 (one value) is listed twice"),
    ({"alpha": [0.01, 0.01]}, "alpha: 0.01 is listed twice; list each value once"),
    ({"method": [{"name": "adam", "b1": [0.9, 0.90]}]}, "method.b1: 0.9 is listed twice"),
])
def test_a_config_the_engine_would_fail_on_or_run_wrong_is_refused_by_its_key(config, says):
    """A negative seed and an engine.part too big for memory failed with a traceback after the folder
    was made; min_steps past max_iter ran every run to max_iter with no rule able to fire; epsilon
    [1, 1.0] made each rule twice."""
    with pytest.raises(gdlab.ConfigError) as err:
        validate(config)
    assert says in str(err.value)


def test_the_command_line_refuses_a_negative_seed_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "gdlab", f"out_dir={out}", "starts.kind=uniform", "starts.n=5",
                           "starts.seed=-1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "starts.seed: must be an integer ≥ 0, got -1" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_a_fixed_chunk_longer_than_max_iter_is_clamped_to_it_and_gives_the_same_runs():
    """A chunk of 10⁸ steps ran its loop to the end whatever its lanes had done: hours for 36 runs."""
    problem, x0 = gdlab.get_problem("himmelblau"), np.random.default_rng(0).uniform(-5, 5, (64, 2))
    rules = (gdlab.StopRule("grad", 1e-4),)
    runs = [gdlab.run_batch(problem, "gd", x0, 0.01, rules, gdlab.EngineOptions(max_iter=300, chunk=chunk,
                                                                              dtype="float64"))
            for chunk in (16, 300, 60_000)]
    for other in runs[1:]:
        for name, values in runs[0].items():
            np.testing.assert_array_equal(values, other[name])
    from gdlab.engine.driver import checked_options
    assert checked_options(gdlab.EngineOptions(max_iter=300, chunk=60_000)).chunk == 300
    assert checked_options(gdlab.EngineOptions(max_iter=300, chunk=16)).chunk == 16


def test_the_command_line_refuses_an_impossible_sweep_at_once_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "gdlab", f"out_dir={out}", "starts.kind=uniform",
                           "starts.n=1000000000000"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "starts: the sweep is 12,000,000,000,000 runs" in proc.stderr     # the default experiment: 12 settings
    assert "Traceback" not in proc.stderr and not out.exists()


HUGE = 10 ** 400       # an integer a YAML file or the command line can give, beyond a float64


@pytest.mark.parametrize("config, says", [
    ({"alpha": [0.1, HUGE]}, "alpha: must be a number > 0, got 1000"),
    ({"epsilon": [HUGE]}, "epsilon: must be a number > 0, got 1000"),
    ({"f_target": -HUGE}, "f_target: must be a number > 0, got -1000"),
    ({"part_size": HUGE}, "part_size: a part of 1"),
    ({"part_size": 10 ** 305}, "part_size: a part of 1"),           # within float64's range; its bytes are not
    ({"engine": {"lanes": 10 ** 308}}, "engine.lanes: must be an integer ≥ 1 and ≤ 2,147,483,646 or null, got 1000"),
    ({"starts": {"kind": "points", "points": [[0, 0], [HUGE, 0]]}}, "starts.points[1]: [1000"),
    ({"problems": [{"name": "himmelblau", "domain": [[-HUGE, 1], [0, 1]]}]}, "problems[0]: domain must be 2 pairs"),
    ({"problems": [{"name": "q", "expr": "x**2", "domain": [[-1, 1]], "minima": [[HUGE]]}]},
     "problems[0]: problem 'q': minima must be points of numbers"),
    ({"problems": [{"name": "c", "expr": "x1**2 + x2**2", "dim": 2, "domain": [[-1, 1], [-1, 1]],
                    "constraints": {"eq": ["x1 - 1"], "penalty": HUGE}}]},
     "problems[0]: problem 'c': constraints.penalty must be a number > 0"),
])
def test_an_integer_beyond_float64_is_a_config_error_naming_its_key(config, says):
    """Python's own words were a bare OverflowError, "int too large to convert to float", naming no key."""
    with pytest.raises(gdlab.ConfigError) as err:
        validate(config)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(says)


def test_an_integer_beyond_float64_is_listed_with_the_configs_other_bad_keys():
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"alpha": [HUGE], "methdo": ["gd"], "momentum": [2.0]})
    assert [p.split(":")[0] for p in err.value.problems] == ["methdo", "alpha", "momentum"]


def test_an_integer_beyond_float64_in_a_methods_hyperparameter_or_f_min_is_listed_with_the_others():
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"method": [{"name": "adam", "b1": HUGE}], "alpha": [-1]})
    assert [p.split(":")[0] for p in err.value.problems] == ["alpha", "method.b1"]
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"problems": [{"name": "q", "expr": "x**2", "domain": [[-1, 1]], "f_min": [HUGE]}], "alpha": [-1]})
    assert [p.split(":")[0] for p in err.value.problems] == ["problems[0]", "alpha"]
    assert "f_min must be a list of numbers" in err.value.problems[0]


def test_an_integer_beyond_float64_as_a_start_or_a_point_is_an_input_error():
    with pytest.raises(gdlab.InputError, match="starts must be an"):
        gdlab.descend("himmelblau", "gd", [[HUGE, 0]])
    with pytest.raises(gdlab.InputError, match="starts for a function must be a point"):
        gdlab.descend(lambda x: (x ** 2).sum(), "gd", [[HUGE, 0]])
    with pytest.raises(gdlab.InputError, match="a point of himmelblau must be 2 number"):
        gdlab.inspect_point("himmelblau", [HUGE, 0])
    with pytest.raises(gdlab.InputError, match="a point must be a list of numbers"):
        gdlab.inspect_point(lambda x: (x ** 2).sum(), [HUGE, 0])
    with pytest.raises(gdlab.InputError, match="stationary_tol must be a number > 0"):
        gdlab.inspect_point("himmelblau", [0, 0], stationary_tol=HUGE)
    with pytest.raises(gdlab.InputError, match=r"points of himmelblau must be an \(n, 2\) array of numbers, got"):
        gdlab.classify_points(gdlab.get_problem("himmelblau"), [[HUGE, 0]])


def test_ragged_starts_and_a_list_for_a_config_are_named_not_numpys_words():
    with pytest.raises(gdlab.InputError, match="starts must be an"):
        gdlab.descend("himmelblau", "gd", [[1, 2], [3]])
    with pytest.raises(gdlab.ConfigError, match="a sweep config is a mapping"):
        gdlab.sweep([1, 2])
    assert np.isfinite(gdlab.descend("himmelblau", "gd", [[1, 2]], max_iter=5).runs["f_final"]).all()


# --- damaged data, never reused -------------------------------------------------------------

import json  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gdlab.app.commands import verify_main  # noqa: E402
from gdlab.runner.execute import run_to_folder  # noqa: E402
from gdlab.storage.folder import SweepFolder  # noqa: E402
from gdlab.storage.verify import verify  # noqa: E402

SMALL = {"experiment": "damage", "problems": ["himmelblau"], "method": ["gd"], "alpha": [0.01, 0.02],
         "starts": {"kind": "grid", "n": 6}, "criterion": ["df", "grad"], "epsilon": [1e-6], "max_iter": 300,
         "dtype": "float64", "traces": 1, "part_size": 16}


def _tables(folder):
    r = gdlab.load(folder)
    return {t: getattr(r, t) for t in ("runs", "stops", "curves", "traces")}


def _same(a, b):
    for t in a:
        assert a[t].equals(b[t]), t


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("finished")
    folder = run_to_folder(validate(SMALL), root, log=lambda _: None, show_progress=False)
    return folder, _tables(folder)


@pytest.fixture
def sweep_copy(finished, tmp_path):
    folder, tables = finished
    copy = tmp_path / folder.parent.name / folder.name
    shutil.copytree(folder, copy)
    return copy, tables


def _resume(folder):
    said = []
    run_to_folder(validate(SMALL), folder.parent.parent, log=said.append, show_progress=False)
    return "\n".join(said)


def _report_exit(folder):
    proc = subprocess.run([sys.executable, "-c", "from gdlab.app.cli import report_main; report_main()", str(folder)],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stderr


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_a_part_is_named_by_verify_load_and_the_report_and_recomputed_by_resume(sweep_copy):
    folder, original = sweep_copy
    part = folder / "runs" / "part-00002.parquet"
    _flip(part, 200)
    assert any("runs/part-00002.parquet" in line for line in verify(folder))
    with pytest.raises(gdlab.FolderError, match="runs/part-00002.parquet"):
        gdlab.load(folder)
    code, err = _report_exit(folder)
    assert code == 1 and "runs/part-00002.parquet" in err and "Traceback" not in err
    said = _resume(folder)
    assert "part 2: runs/part-00002.parquet is not the file that was written" in said and "computing it again" in said
    assert verify(folder) == []
    _same(_tables(folder), original)


@pytest.mark.parametrize("damage, says", [
    (lambda f: (f / "stops" / "part-00001.parquet").unlink(), "stops/part-00001.parquet"),
    (lambda f: (f / "curves" / "part-00003.parquet").write_bytes(
        (f / "curves" / "part-00003.parquet").read_bytes()[:100]), "curves/part-00003.parquet"),
])
def test_a_missing_or_truncated_part_is_named_and_never_read_as_fewer_runs(sweep_copy, damage, says):
    folder, original = sweep_copy
    damage(folder)
    assert any(says in line for line in verify(folder))
    with pytest.raises(gdlab.FolderError, match=says):
        gdlab.load(folder)
    code, err = _report_exit(folder)
    assert code == 1 and says in err and "Traceback" not in err, (code, err[-3000:])
    said = _resume(folder)
    assert "computing it again" in said
    _same(_tables(folder), original)


def _flip_in_footer(path, needle=None):
    """Flip a bit in a Parquet file's footer: in ``needle``'s first byte but one there (the top bit,
    which makes a name's UTF-8 invalid), else 40 bytes from the end."""
    data = bytearray(path.read_bytes())
    start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    at, bit = (data.index(needle, start) + 1, 0x80) if needle else (len(data) - 40, 0x10)
    data[at] ^= bit
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("table, which, needle", [("runs", -1, b"himmelblau"), ("curves", 0, None)])
def test_a_part_altered_in_its_footer_is_named_by_the_report(sweep_copy, table, which, needle):
    """The report reads the runs files' Parquet statistics (which problems have known minima) and a
    table's columns from its first part's schema before its pass over the parts, each from a file
    checked first: a bit flipped in a footer (a problem's name in the statistics of the last runs
    part; the curves' first part) is named, never parsed (pyarrow can abort the process on one)."""
    folder, _ = sweep_copy
    from gdlab.storage import SweepFolder
    entry = [r["files"][table] for _, r in sorted(SweepFolder(folder).records().items())][which]
    _flip_in_footer(folder / entry["file"], needle)
    code, err = _report_exit(folder)
    assert code == 1 and entry["file"] in err and "Traceback" not in err, (code, err[-3000:])


def test_a_report_stopped_by_a_damaged_footer_leaves_no_reader_behind(sweep_copy):
    """The report's pass begins reading its first part while it scans the runs parts' footers: a
    damaged footer stops it with the file named, and the reader already at work is waited for and
    gone, even while the error (and its traceback, as a notebook keeps it) is held."""
    import threading

    from gdlab.core.errors import FolderError
    from gdlab.report.page import _gather
    from gdlab.storage import SweepFolder
    folder, _ = sweep_copy
    entry = [r["files"]["runs"] for _, r in sorted(SweepFolder(folder).records().items())][-1]
    _flip_in_footer(folder / entry["file"], b"himmelblau")
    with pytest.raises(FolderError, match=entry["file"]) as held:
        _gather(folder, validate(SMALL), np.zeros(0, np.int64))
    assert held.value is not None
    assert not [t.name for t in threading.enumerate() if t.name.startswith("gdlab-reader")]


@pytest.mark.parametrize("record", [None, "garbage{", '{"part": 9}', '[1, 2]'])
def test_a_deleted_or_garbage_part_record_is_named_by_verify_and_recomputed_by_resume(sweep_copy, record):
    folder, original = sweep_copy
    path = folder / "parts" / "part-00004.json"
    path.unlink() if record is None else path.write_text(record)
    damage = verify(folder)
    assert any("part-00004.json" in line or "part 4:" in line for line in damage), damage
    assert verify_main([str(folder)]) == 1
    said = _resume(folder)
    assert "part 4:" in said and "computing it again" in said
    assert verify(folder) == []
    _same(_tables(folder), original)


@pytest.mark.parametrize("manifest", ['{"parts": {"runs": [', "[1, 2, 3]", '{"status": "complete"}', "folder"])
def test_a_damaged_manifest_is_a_message_and_resume_rebuilds_it_from_the_records(sweep_copy, manifest, capsys):
    folder, original = sweep_copy
    path = folder / "manifest.json"
    path.unlink()
    path.mkdir() if manifest == "folder" else path.write_text(manifest)
    with pytest.raises(gdlab.FolderError, match="manifest.json"):
        gdlab.load(folder)
    assert verify_main([str(folder)]) == 1
    assert "manifest.json" in capsys.readouterr().err
    if manifest == "folder":
        path.rmdir()
    said = _resume(folder)
    assert "nothing to compute" in said
    assert verify(folder) == []
    _same(_tables(folder), original)


def test_a_missing_manifest_with_finished_parts_says_so(sweep_copy):
    folder, _ = sweep_copy
    (folder / "manifest.json").unlink()
    with pytest.raises(gdlab.FolderError, match="has finished parts but no manifest.json"):
        gdlab.load(folder)


def test_readers_read_the_parts_the_manifest_listed_as_one_snapshot(sweep_copy):
    """A manifest written while another shard still worked lists fewer parts than are on disk:
    load and the report read those it lists (whole runs), and say the sweep is partial."""
    folder, original = sweep_copy
    manifest = json.loads((folder / "manifest.json").read_text())
    for table in manifest["parts"]:
        manifest["parts"][table] = [e for e in manifest["parts"][table] if "part-00004" not in e["file"]]
    manifest["status"] = "partial: 4 of 5 parts"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="partial sweep"):
        r = gdlab.load(folder)
    cut = original["runs"]["run_id"] < 64
    assert r.runs.equals(original["runs"][cut].reset_index(drop=True))
    code, _ = _report_exit(folder)
    assert code == 0
    assert "partial sweep" in (folder / "report" / "summary.md").read_text()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 10 ** 6), offset=st.integers(0, 10 ** 9))
def test_a_random_byte_flipped_in_a_random_part_file_is_named_or_repaired_never_used(finished, tmp_path_factory,
                                                                                     which, offset):
    source, original = finished
    folder = tmp_path_factory.mktemp("flip") / source.parent.name / source.name
    shutil.copytree(source, folder)
    files = sorted(p for p in folder.rglob("part-*") if p.is_file())
    target = files[which % len(files)]
    _flip(target, offset)
    assert verify(folder) != []                   # verify names it, whatever the file
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _same(_tables(folder), original)      # load either refuses or gives the original numbers
    except gdlab.FolderError as exc:
        assert target.name in str(exc)
    said = _resume(folder)                        # resume repairs: the numbers are the original's
    assert "computing it again" in said
    assert verify(folder) == []
    _same(_tables(folder), original)


def test_every_byte_of_a_part_record_is_checked(finished):
    """A record resume trusts: a bit flipped in any of its bytes leaves it unreadable, of the wrong
    shape, or naming other files than the manifest (its shard, its time and its counts included: a
    flip once turned "shard" into "chard" and passed)."""
    folder, _ = finished
    assert _flips_missed(folder / "parts" / "part-00000.json") == []


def _flips_missed(path):
    """The bytes of a part record (of part 0) whose bit flipped leaves a record of the right shape,
    naming the same files."""
    import json

    from gdlab.storage.folder import _record_problem
    data = path.read_bytes()
    original = json.loads(data)
    assert _record_problem(original, 0) is None
    missed = []
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        try:
            rec = json.loads(bytes(flipped).decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if _record_problem(rec, 0) is None and rec.get("files") == original["files"]:
            missed.append((i, bytes(flipped[max(0, i - 10): i + 10])))
    return missed


# --- stopping: at once, saying so ---------------------------------------------------------------

import signal  # noqa: E402
import time  # noqa: E402

BUSY = ["problems=[{name: rosenbrock, dim: 8}]", "method=[gd]", "alpha=[1e-5]", "starts.kind=uniform",
        "starts.n=400000", "part_size=100000", "criterion=[grad]", "epsilon=[1e-12]", "max_iter=50000", "traces=0",
        "curves=false"]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_mid_kernel_call_exits_within_seconds_saying_what_is_kept(tmp_path, sig, code, word):
    """Each kernel call here runs for tens of seconds; the signal arrives during one. The process
    says what it keeps and exits at once (the call on the devices is left, not waited for)."""
    import threading
    p = subprocess.Popen([sys.executable, "-m", "gdlab", f"out_dir={tmp_path}", *BUSY], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines, started = [], threading.Event()

    def read():
        for line in p.stderr:
            lines.append(line)
            if " runs in " in line:     # the sweep's opening line: the kernel's first call comes next
                started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(180), "".join(lines)[-2000:]
    time.sleep(5)                     # compiled, and deep in a long call
    assert p.poll() is None, "".join(lines)[-2000:]
    sent = time.time()
    p.send_signal(sig)
    p.wait(timeout=120)
    took = time.time() - sent
    reader.join(10)
    err = "".join(lines)
    assert p.returncode == code, err[-1000:]
    assert f"{word}: finished parts are saved; run the same command again to resume" in err
    assert took < 5, took


def test_a_sweep_past_warn_runs_says_its_size_first_and_warn_runs_is_not_part_of_its_id(tmp_path):
    from gdlab.runner.schema import merge
    from gdlab.storage.folder import sweep_id
    small = {"problems": ["paraboloid"], "starts": {"kind": "grid", "n": 5}, "max_iter": 50, "traces": 0}
    with pytest.warns(UserWarning, match=r"the sweep is 25 runs \(more than warn_runs = 10\), up to 1,250 steps"):
        gdlab.sweep({**small, "warn_runs": 10})
    said = []
    run_to_folder(validate({**small, "warn_runs": 10}), tmp_path, log=said.append, show_progress=False)
    assert said[0].startswith("warning: the sweep is 25 runs")
    assert sweep_id(merge({**small, "warn_runs": 10})) == sweep_id(merge(small))
    without = {k: v for k, v in merge(small).items() if k != "warn_runs"}
    assert sweep_id(without) == sweep_id(merge(small))       # folders made before the key keep their id


def test_traced_paths_are_replayed_a_bounded_batch_at_a_time_with_the_same_paths(monkeypatch):
    import gdlab.runner.execute as E
    config = {"problems": ["himmelblau"], "method": ["gd"], "alpha": [0.01], "starts": {"kind": "grid", "n": 5},
              "criterion": ["grad"], "epsilon": [1e-6], "max_iter": 400, "dtype": "float64", "traces": 12}
    whole = gdlab.sweep(config).traces
    calls = []
    real = E.trace_runs
    monkeypatch.setattr(E, "trace_runs", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    monkeypatch.setattr(E, "TRACE_BYTES", 1)       # less than a path: one path a call
    batched = gdlab.sweep(config).traces
    assert calls == [1] * 12
    # the same steps and points; a replay one lane wide may round a multiply-add differently (XLA's FMA
    # contraction depends on the width), so the last bits may differ
    assert batched[["run_id", "step"]].equals(whole[["run_id", "step"]])
    np.testing.assert_allclose(gdlab.points(batched["x"]), gdlab.points(whole["x"]), rtol=1e-12, atol=1e-12)


def test_a_damaged_lessons_listing_or_stored_config_is_a_message_not_a_traceback(tmp_path, sweep_copy):
    page = tmp_path / "lessons" / "abc"
    page.mkdir(parents=True)
    (page / "lessons.json").write_text('{"scenarios": [{"name": "x2_sin"')
    for command in ("from gdlab.app.cli import report_main; report_main()",
                    "import sys; sys.argv[1:1] = ['verify']; from gdlab.app.cli import main; main()"):
        proc = subprocess.run([sys.executable, "-c", command, str(page)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and "lessons.json cannot be read" in proc.stderr and "Traceback" not in proc.stderr
    folder, _ = sweep_copy
    config = folder / "config.yaml"
    text = config.read_text()
    config.write_text(text + "alpah: [0.1]\n")      # not the config the parts were computed for
    code, err = _report_exit(folder)
    assert code == 1 and "(this folder's config.yaml)" in err and "Traceback" not in err
    for record in (folder / "parts").glob("*.json"):      # records from before they named their sweep
        record.write_text(json.dumps({k: v for k, v in json.loads(record.read_text()).items() if k != "sweep"}))
    code, err = _report_exit(folder)
    assert code == 2 and "alpah: unknown key (did you mean 'alpha'?)" in err and "Traceback" not in err


@pytest.mark.parametrize("d", [1, 2, 3, 7, 8, 20])
def test_nearest_minimum_by_columns_gives_the_bits_of_row_sums(d):
    """Below 8 coordinates the distances are summed a column at a time (fast); NumPy's row sums add
    the same numbers in the same order there, so the tables are the same bits either way, NaN and inf
    rows included; from 8 on the row sums themselves are used."""
    import dataclasses

    from gdlab.core.problems import get_problem
    from gdlab.tables.build import _grad_norm_final, _nearest_by_rows, nearest_minimum
    base = get_problem("rastrigin", d)
    rng = np.random.default_rng(d)
    mins = rng.normal(size=(3, d))
    prob = dataclasses.replace(base, minima=tuple(map(tuple, mins)), f_min=(0.0, 1.0, 2.0))
    xs = rng.normal(size=(2000, d)) * 10.0 ** rng.integers(-3, 160, (2000, 1))
    xs[:5, 0] = [np.nan, np.inf, -np.inf, 1e200, -1e300]
    fs = rng.normal(size=2000)
    fast, slow = nearest_minimum(prob, xs, fs), _nearest_by_rows(prob, xs, fs, prob.minima_array)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        rows = np.sqrt(np.sum(xs.astype(np.float64) ** 2, axis=1))
    np.testing.assert_array_equal(_grad_norm_final({"g": xs}), rows)


# --- a function of one's own, changed under the same _target_ -----------------------------------

def _target_module(tmp_path, monkeypatch, body: str, head: str = ""):
    """A module of one's own, ``own_objective``, with ``f`` written as ``body`` after the lines
    ``head``, imported afresh."""
    import importlib
    import shutil
    monkeypatch.setattr(sys, "dont_write_bytecode", True)     # a cached .pyc of the same size and second is not read
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)
    (tmp_path / "own_objective.py").write_text(f"import jax.numpy as jnp\nimport numpy as np\n{head}\n\n"
                                               f"def f(x):\n    return {body}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    if "own_objective" in sys.modules:
        return importlib.reload(sys.modules["own_objective"])
    return importlib.import_module("own_objective")


OWN = {"name": "own", "_target_": "own_objective.f", "dim": 2, "domain": [[-3, 3], [-3, 3]]}


def test_a_target_defined_again_in_the_same_process_is_the_new_function(tmp_path, monkeypatch):
    """A notebook's cell defines the function again (or a module is reloaded) under the same _target_
    path: the same config then runs the new function, in a sweep and at a point (the problem and its
    compiled kernels were once the old function's: the old minimum, with exit 0)."""
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 3},
              "max_iter": 300, "dtype": "float64", "traces": 0}
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    first = gdlab.sweep(config)
    np.testing.assert_allclose(np.stack(first.runs["x_final"]), 1.0, atol=1e-6)
    assert gdlab.inspect_point(OWN, [0.0, 0.0]).f == 2.0
    _target_module(tmp_path, monkeypatch, "jnp.sum((x + 2.0) ** 2)")
    again = gdlab.sweep(config)
    np.testing.assert_allclose(np.stack(again.runs["x_final"]), -2.0, atol=1e-6)
    assert gdlab.inspect_point(OWN, [0.0, 0.0]).f == 8.0
    monkeypatch.delitem(sys.modules, "own_objective")


def test_a_target_whose_global_has_changed_in_the_same_process_is_traced_again(tmp_path, monkeypatch):
    """A notebook sets a global its _target_ reads (not defining the function again): the same config
    ran the kernel compiled with the old value, the old minimum with exit 0, as jax.jit would."""
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 3},
              "max_iter": 300, "dtype": "float64", "traces": 0}
    module = _target_module(tmp_path, monkeypatch, "jnp.sum((x - CENTRE) ** 2)", head="CENTRE = 1.0")
    np.testing.assert_allclose(np.stack(gdlab.sweep(config).runs["x_final"]), 1.0, atol=1e-6)
    module.CENTRE = -2.0
    np.testing.assert_allclose(np.stack(gdlab.sweep(config).runs["x_final"]), -2.0, atol=1e-6)
    assert gdlab.inspect_point(OWN, [0.0, 0.0]).f == 8.0
    module.CENTRE = 1.0           # back as it was
    np.testing.assert_allclose(np.stack(gdlab.sweep(config).runs["x_final"]), 1.0, atol=1e-6)
    monkeypatch.delitem(sys.modules, "own_objective")


def test_every_byte_of_a_target_sweeps_part_record_is_checked_and_a_damaged_one_computed_again(tmp_path,
                                                                                             monkeypatch):
    """Its functions' fingerprints too: a flip in a problem's name or the JAX version left them unable to
    be compared, taken as the same function; they carry a sha256 of their own now, and a part whose
    record does not match it is computed again, not refused as another function."""
    import json
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 3},
              "max_iter": 300, "dtype": "float64", "traces": 0, "out_dir": str(tmp_path / "out")}
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    folder = run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    record = folder / "parts" / "part-00000.json"
    assert set(json.loads(record.read_text())["functions"]) == {"jax", "form", "sha256", "check"}
    assert _flips_missed(record) == []
    kept = json.loads(record.read_text())
    kept["functions"]["sha256"] = {"other": kept["functions"]["sha256"]["own"]}    # the name's bytes changed
    record.write_text(json.dumps(kept, indent=1))
    said = []
    run_to_folder(validate(config), log=said.append, show_progress=False)
    assert any(line.startswith("part 0: its record parts/part-00000.json holds its functions' fingerprints changed "
                               "since they were written") and line.endswith("computing it again") for line in said)
    assert json.loads(record.read_text())["functions"]["sha256"].keys() == {"own"}
    kept = json.loads(record.read_text())
    del kept["functions"]["check"]              # a record of a gdlab from before the check: read as it was
    record.write_text(json.dumps(kept, indent=1))
    said = []
    run_to_folder(validate(config), log=said.append, show_progress=False)
    assert any("already complete" in line for line in said)
    monkeypatch.delitem(sys.modules, "own_objective")


SQUARES = {"name": "q", "expr": "x1**2 + x2**2", "domain": [[-1, 1], [-1, 1]]}


@pytest.mark.parametrize("problem", [{"name": "rastrigin"}, SQUARES, OWN], ids=["registered", "expr", "_target_"])
@pytest.mark.parametrize("dim", [2.5, "2", True, 0, 100_000, float("nan"), None])
def test_a_problems_dim_is_checked_alike_whatever_kind_of_problem(problem, dim, tmp_path, monkeypatch):
    """An expression's dim 2.5 ran at 2 and True at 1 (int() of it); a registered problem refused 2.0,
    which a _target_ took: one check for all three."""
    if "_target_" in problem:
        monkeypatch.delitem(sys.modules, "own_objective", raising=False)
        _target_module(tmp_path, monkeypatch, "jnp.sum(x ** 2)")
    name, problem = problem["name"], {k: v for k, v in problem.items() if k != "dim"}
    if dim is None:     # left out: the registry's default, the expression's own; a _target_ needs one
        if "_target_" in problem:
            with pytest.raises(gdlab.ConfigError, match="a _target_ problem needs dim"):
                validate({"problems": [problem]})
        else:
            assert validate({"problems": [problem]}).problems[0].dim == 2
        return
    with pytest.raises(gdlab.ConfigError, match=rf"problem '{name}': dim must be a whole number in \[1, 10,000\], "
                                                rf"got {re.escape(repr(dim))}"):
        validate({"problems": [{**problem, "dim": dim}]})
    for whole in (2.0, np.int64(2)):
        got = validate({"problems": [{**problem, "dim": whole}]}).problems[0]
        assert got.dim == 2 and type(got.dim) is int and got.name == name


@pytest.mark.parametrize("domain, says", [
    (((float("-inf"), 1.0),), r"domain axis 0 is \[-inf, 1.0\]: give each axis two finite numbers"),
    (((float("nan"), 1.0),), r"domain axis 0 is \[nan, 1.0\]"),
    (((1, 0),), r"domain axis 0 is \[1.0, 0.0\]"),
    (((0, 1, 2),), r"domain axis 0 is \[0.0, 1.0, 2.0\]"),
    (((-HUGE, 1),), "domain must be 1 pair \\[lo, hi\\] of numbers"),
    ((("a", 1),), "domain must be 1 pair"),
    (((0, 1), (0, 1)), "domain has 2 axes, dim is 1"),
])
def test_a_problem_built_in_python_refuses_a_domain_it_cannot_draw_starts_from(domain, says):
    """An infinite axis made every uniform start NaN (all runs invalid_start, exit 0); an integer beyond
    float64 raised a bare OverflowError at the draw; a string a bare TypeError."""
    with pytest.raises(gdlab.ProblemError, match=says):
        gdlab.Problem(name="p", fn=lambda x: (x ** 2).sum(), dim=1, domain=domain)
    made = gdlab.Problem(name="p", fn=lambda x: (x ** 2).sum(), dim=2.0, domain=np.array([[0, 1], [-1, 2]]))
    assert made.dim == 2 and made.domain == ((0.0, 1.0), (-1.0, 2.0))


def test_a_targets_dim_is_any_whole_number_and_its_changed_global_is_seen_whatever_its_type(tmp_path, monkeypatch):
    """dim: 2.0 (YAML) passed validation and failed at run time with a bare TypeError; dim as a NumPy
    integer left the fingerprint out of the problem's key (a changed global ran the old kernel)."""
    module = _target_module(tmp_path, monkeypatch, "jnp.sum((x - CENTRE) ** 2)", head="CENTRE = 1.0")
    for dim in (2.0, np.int64(2)):
        config = {"problems": [{**OWN, "dim": dim}], "method": ["gd"], "alpha": [0.1], "max_iter": 300,
                  "starts": {"kind": "grid", "n": 2}, "dtype": "float64", "traces": 0}
        module.CENTRE = 1.0
        np.testing.assert_allclose(np.stack(gdlab.sweep(config).runs["x_final"]), 1.0, atol=1e-6)
        module.CENTRE = -2.0
        np.testing.assert_allclose(np.stack(gdlab.sweep(config).runs["x_final"]), -2.0, atol=1e-6)
    with pytest.raises(gdlab.ConfigError, match=r"problem 'own': dim must be a whole number in \[1, 10,000\], got 2.5"):
        validate({"problems": [{**OWN, "dim": 2.5}]})
    monkeypatch.delitem(sys.modules, "own_objective")


def test_a_folder_loaded_and_saved_elsewhere_keeps_its_function_fingerprints(tmp_path, monkeypatch):
    """gdlab.load's Results carried none, so their copy (Results.save) could not tell a changed function."""
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 3},
              "max_iter": 300, "dtype": "float64", "traces": 0, "out_dir": str(tmp_path / "out")}
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    folder = run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    loaded = gdlab.load(folder)
    assert set(loaded.facts["functions"]) == {"jax", "form", "sha256"}
    copy = loaded.save(tmp_path / "copy", report=False, log=lambda m: None)
    assert all(json.loads(r.read_text())["functions"]["sha256"] == loaded.facts["functions"]["sha256"]
               for r in (copy / "parts").glob("*.json"))
    monkeypatch.delitem(sys.modules, "own_objective")


def test_a_folder_computed_with_another_version_of_a_target_is_refused_and_kept(tmp_path, monkeypatch):
    """The same config after its _target_'s code has changed would have resumed the folder, or called it
    complete, with the old function's runs: each part's record keeps a fingerprint of the function
    (its jaxpr), and a changed one is refused, naming the problem, its path and the way out, with
    nothing in the folder changed; the function as it was resumes as before, and a report of the
    folder once the function has changed says its figures draw the new one."""
    import hashlib

    from gdlab.core.errors import FolderError
    from gdlab.report import build
    from gdlab.runner.execute import run_to_folder
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 4},
              "max_iter": 300, "dtype": "float64", "traces": 0, "part_size": 8, "out_dir": str(tmp_path / "out")}
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    folder = run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    files = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2) + 0.5")       # f moved, same minimiser
    with pytest.raises(FolderError, match=r"problem 'own': 2 parts in .* were computed with another version of its "
                                          r"function own_objective\.f .*another folder .*or delete"):
        run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()} == files
    logs = []
    build(folder, log=logs.append)
    assert any("problem own: its function own_objective.f has changed since its runs" in m for m in logs)
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    logs = []
    assert run_to_folder(validate(config), log=logs.append, show_progress=False) == folder
    assert any("already complete" in m for m in logs)
    logs = []
    build(folder, log=logs.append)
    assert not any("has changed" in m for m in logs)
    monkeypatch.delitem(sys.modules, "own_objective")


def test_a_targets_fingerprint_is_its_computation_in_every_process(tmp_path):
    """The fingerprint a resume compares is the same for the same code in another process (no address,
    no path, no line number in it), and another for another number in the code, another array it
    closes over, or another function it calls."""
    (tmp_path / "prints.py").write_text(
        "import jax, jax.numpy as jnp, numpy as np\nDATA = np.linspace(0, 1, 4)\n"
        "def a(x):\n    return jnp.sum(jax.nn.softplus(x) * DATA[:2]) + jnp.linalg.norm(x)\n"
        "def b(x):\n    return jnp.sum(jax.nn.softplus(x) * DATA[1:3]) + jnp.linalg.norm(x)\n"
        "def c(x):\n    return jnp.sum(jax.nn.relu(x) * DATA[:2]) + jnp.linalg.norm(x)\n"
        "def d(x):\n    return jnp.sum(jax.nn.softplus(x) * DATA[:2]) + jnp.linalg.norm(x) * 2.0\n")
    script = ("import sys; sys.path.insert(0, sys.argv[1])\n"
              "from gdlab.core.expressions import inline_problem, function_fingerprint\n"
              "for name in 'abcd':\n"
              "    p = inline_problem({'name': name, '_target_': 'prints.' + name, 'dim': 2, "
              "'domain': [[-1, 1], [-1, 1]]})\n"
              "    print(function_fingerprint(p))\n")
    runs = [subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                           timeout=120, check=True).stdout.split() for _ in range(2)]
    assert runs[0] == runs[1] and len(set(runs[0])) == 4 and all(len(s) == 64 for s in runs[0])
    from gdlab.core.expressions import function_fingerprint
    assert function_fingerprint(gdlab.get_problem("himmelblau")) is None


def test_a_target_that_does_not_hash_runs_and_its_fingerprint_ignores_the_x64_setting(tmp_path, monkeypatch):
    """A callable that does not hash (a dataclass instance: equinox modules are such) is a _target_ as
    any function is; and the fingerprint is the same whether the process runs with x64 on or off (a
    notebook with x64 on resuming a folder the command line began)."""
    import importlib

    import jax

    from gdlab.core.expressions import function_fingerprint, inline_problem
    (tmp_path / "own_callable.py").write_text(
        "import dataclasses\nimport jax.numpy as jnp\nimport numpy as np\n\n"
        "@dataclasses.dataclass\nclass Quad:\n    c: float = 1.0\n    w = np.array([1.0, 3.0])\n\n"
        "    def __call__(self, x):\n        return jnp.sum(self.w * (x - self.c) ** 2) + jnp.arange(2.0)[1]\n\n"
        "f = Quad()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    entry = {"name": "quad", "_target_": "own_callable.f", "dim": 2, "domain": [[-3, 3], [-3, 3]]}
    res = gdlab.sweep({"problems": [entry], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 2},
                       "max_iter": 300, "dtype": "float64", "traces": 0})
    np.testing.assert_allclose(np.stack(res.runs["x_final"]), 1.0, atol=1e-6)
    problem = inline_problem(entry)
    off = function_fingerprint(problem)
    with jax.enable_x64(True):
        assert function_fingerprint(problem) == off
    assert res.facts["functions"]["sha256"] == {"quad": off}
    monkeypatch.delitem(sys.modules, "own_callable")


def test_results_saved_after_their_target_was_defined_again_keep_the_function_they_were_computed_with(
        tmp_path, monkeypatch):
    """gdlab.sweep, the function defined again, then Results.save: the folder's parts hold the old
    function's runs, so they keep its fingerprint, and the new function's config is refused there."""
    from gdlab.core.errors import FolderError
    from gdlab.runner.execute import run_to_folder
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 3},
              "max_iter": 300, "dtype": "float64", "traces": 0, "out_dir": str(tmp_path / "out")}
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    res = gdlab.sweep(config)
    _target_module(tmp_path, monkeypatch, "jnp.sum((x + 2.0) ** 2)")
    folder = res.save(log=lambda m: None)
    with pytest.raises(FolderError, match="1 part in .* was computed with another version of its function"):
        run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - 1.0) ** 2)")
    assert run_to_folder(validate(config), log=lambda m: None, show_progress=False) == folder
    monkeypatch.delitem(sys.modules, "own_objective")


def test_a_problem_copied_with_another_function_and_its_key_runs_its_own_function():
    """Compiled kernels are shared by an objective's key and its function object: a Problem copied
    with ``dataclasses.replace(…, fn=…)`` (or a name registered again) keeps the key, and once ran
    the first function's kernel, with exit 0. The makers of problems hand out one function per key,
    so sharing stays: an expression's text gives the same function each time (a CUTEst name: below)."""
    import dataclasses

    from gdlab.core.expressions import parse_expression
    from gdlab.core.problems import get_problem
    x4 = get_problem("x4")
    shifted = dataclasses.replace(x4, name="shifted_x4", fn=lambda x: (x[0] - 1.0) ** 4, minima=[[1.0]], f_min=[0.0])
    assert shifted.objective != x4.objective and x4.objective == get_problem("x4").objective
    first = gdlab.descend(x4, "gd", [[2.0]], alpha=0.01, max_iter=300, dtype="float64")
    again = gdlab.descend(shifted, "gd", [[2.0]], alpha=0.01, max_iter=300, dtype="float64")
    assert first.runs["x_final"].iloc[0][0] < 0.3 < 1.0 < again.runs["x_final"].iloc[0][0]
    assert parse_expression("x**2 + y", 2)[0] is parse_expression("x**2 + y")[0]      # with its dim or without
    from gdlab.core.expressions import inline_problem
    from gdlab.engine import kernel_cache_size
    walls = {"name": "w", "expr": "x**2 + y**2", "domain": [[-2, 2], [-2, 2]], "constraints": {"eq": ["x + y - 1"],
                                                                                             "penalty": 100}}
    config = {"problems": [walls], "method": ["gd"], "alpha": [0.001], "max_iter": 50, "traces": 0,
              "starts": {"kind": "grid", "n": 2}}
    gdlab.sweep(config)
    before = kernel_cache_size()
    for entry in ({**walls, "dim": 2}, {**walls, "name": "w2", "domain": [[-3, 3], [-3, 3]]}):
        assert inline_problem(entry).objective == inline_problem(walls).objective
        gdlab.sweep({**config, "problems": [entry]})
    assert kernel_cache_size() == before      # the same function and constraints: their kernel, shared

    def bowl(x):
        return jnp.sum((x - 0.5) ** 2)

    import jax.numpy as jnp
    runs = [gdlab.descend(bowl, "gd", [[1.0, 2.0], [0.0, 0.0]], alpha=0.1, max_iter=100).runs]
    before = kernel_cache_size()
    runs.append(gdlab.descend(bowl, "gd", [[2.0, 1.0], [0.0, 0.0]], alpha=0.2, max_iter=100).runs)
    assert kernel_cache_size() == before      # a plain function's kernel is found again on the next call

    def bowl(x):                              # noqa: F811 — defined again, as a notebook's cell does
        return jnp.sum((x + 0.5) ** 2)
    runs.append(gdlab.descend(bowl, "gd", [[1.0, 2.0], [0.0, 0.0]], alpha=0.1, max_iter=100).runs)
    class Held:                               # and a function whose state has changed computes another thing
        centre = 0.5

        def __call__(self, x):
            return jnp.sum((x - self.centre) ** 2)
    held = Held()
    runs.append(gdlab.descend(held, "gd", [[1.0, 2.0], [0.0, 0.0]], alpha=0.1, max_iter=100).runs)
    held.centre = -1.5
    runs.append(gdlab.descend(held, "gd", [[1.0, 2.0], [0.0, 0.0]], alpha=0.1, max_iter=100).runs)
    assert [np.round(r["x_final"].iloc[-1], 2).tolist() for r in runs] == [[0.5, 0.5], [0.5, 0.5], [-0.5, -0.5],
                                                                            [0.5, 0.5], [-1.5, -1.5]]

    class Model:                               # a method: model.loss is a new object at each access
        centre = 0.25

        def loss(self, x):
            return jnp.sum((x - self.centre) ** 2)
    model, other = Model(), Model()
    first = gdlab.descend(model.loss, "gd", [[1.0, 2.0]], alpha=0.1, max_iter=100).runs
    before = kernel_cache_size()
    again = gdlab.descend(model.loss, "gd", [[2.0, 1.0]], alpha=0.1, max_iter=100).runs
    assert kernel_cache_size() == before      # the same method of the same object: its kernel, found again
    other.centre = -1.0
    theirs = gdlab.descend(other.loss, "gd", [[1.0, 2.0]], alpha=0.1, max_iter=100).runs
    assert [np.round(r["x_final"].iloc[0], 2).tolist() for r in (first, again, theirs)] == \
        [[0.25, 0.25], [0.25, 0.25], [-1.0, -1.0]]


def test_a_targets_fingerprint_sees_a_float64_digit_and_an_inline_arrays_every_number(tmp_path, monkeypatch):
    """The fingerprint is traced in float64 (1e8 and 1e8 + 3 are one float32), and an inline entry's
    NumPy arrays are its cache key to their last digit (str() rounds to 8 and elides long arrays)."""
    from gdlab.core.expressions import function_fingerprint, inline_problem
    prints = []
    for shift in ("1e8", "1e8 + 3"):      # an array it closes over (a number written in it is kept as written)
        _target_module(tmp_path, monkeypatch, f"jnp.sum((x - __import__('numpy').array([{shift}, 0.0])) ** 2)")
        prints.append(function_fingerprint(inline_problem(OWN)))
    assert prints[0] != prints[1]
    monkeypatch.delitem(sys.modules, "own_objective")
    base = {"name": "arr", "expr": "(x - 1)**2 + (y - 2)**2", "domain": [[-3, 3], [-3, 3]]}
    one = inline_problem({**base, "minima": [np.array([1.0, 2.0])]})
    near = inline_problem({**base, "minima": [np.array([1.000000004, 2.0])]})
    assert near is not one and near.minima == ((1.000000004, 2.0),)


def test_a_criterion_registered_again_under_its_name_is_the_new_rule():
    """A kernel is compiled for the criteria's registry entries, not their names: a criterion
    registered again under its name once stopped by the old rule, with exit 0."""
    from gdlab.core.criteria import CRITERIA, criterion
    config = {"problems": [{"name": "q", "expr": "(x - 3)**2", "domain": [[-5, 5]]}], "method": ["gd"],
              "alpha": [0.01], "criterion": ["f_below_test"], "epsilon": [1e-2], "max_iter": 2000, "traces": 0,
              "starts": {"kind": "points", "points": [[0.0]]}, "dtype": "float64"}
    try:
        criterion("f_below_test", reads=("f",), at_start=True)(lambda s: s.f)
        loose = gdlab.sweep(config).runs["n_iter"].iloc[0]
        del CRITERIA["f_below_test"]
        criterion("f_below_test", reads=("f",), at_start=True)(lambda s: s.f * 1e6)
        strict = gdlab.sweep(config).runs["n_iter"].iloc[0]
    finally:
        if "f_below_test" in CRITERIA.names():
            del CRITERIA["f_below_test"]
    assert loose < strict < 2000


def test_a_cutest_problem_defined_anew_by_sif2jax_is_refused_where_its_old_runs_are(tmp_path):
    """A CUTEst problem is named by sif2jax's class, whose code an upgrade of sif2jax may change: its
    parts keep its fingerprint as a _target_'s do, and a folder whose parts hold another one (here
    written into the record, as an upgrade would leave it) is refused, not resumed as complete."""
    import json

    pytest.importorskip("sif2jax")
    from gdlab.core.errors import FolderError
    from gdlab.core.suites import cutest_problem
    from gdlab.runner.execute import run_to_folder
    from gdlab.storage.folder import functions_check
    assert cutest_problem("ROSENBR").objective == cutest_problem("ROSENBR").objective    # one kernel, shared
    config = {"problems": [{"suite": "cutest", "names": ["ROSENBR"]}], "method": ["gd"], "alpha": [1e-3],
              "starts": {"kind": "suite", "n": 2}, "max_iter": 50, "traces": 0, "out_dir": str(tmp_path)}
    folder = run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    record = folder / "parts" / "part-00000.json"
    kept = json.loads(record.read_text())
    assert set(kept["functions"]["sha256"]) == {"ROSENBR"}
    said = []
    run_to_folder(validate(config), log=said.append, show_progress=False)
    assert any("already complete" in line for line in said)
    kept["functions"]["sha256"]["ROSENBR"] = "0" * 64
    kept["functions"]["check"] = functions_check(kept["functions"])     # a sound record, of another function
    record.write_text(json.dumps(kept, indent=1))
    with pytest.raises(FolderError, match=r"problem 'ROSENBR': 1 part in .* was computed with another version of "
                                          r"its function sif2jax's ROSENBR"):
        run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    for form in ("another", None):      # taken another way (another gdlab; none named): not compared, said
        if form is None:
            del kept["functions"]["form"]
        else:
            kept["functions"]["form"] = form
        kept["functions"]["check"] = functions_check(kept["functions"])
        record.write_text(json.dumps(kept, indent=1))
        said = []
        run_to_folder(validate(config), log=said.append, show_progress=False)
        assert any("'ROSENBR': its parts were fingerprinted under another JAX version (or by another gdlab)" in line
                   for line in said) and any("already complete" in line for line in said)


def test_a_function_closing_over_a_float64_array_descends_in_float64():
    """descend's dtype is float64 by default: a function closing over data (a float64 NumPy array)
    once failed to lower, a float32 constant in a float64 kernel, with a traceback. Its output's size
    was first found by a float32 trace of the function itself, which JAX keeps; a wrapper is traced now."""
    import jax.numpy as jnp
    centre = np.array([0.5, -0.25])

    def held(x):
        return jnp.sum((x - centre) ** 2)
    res = gdlab.descend(held, "gd", [[1.0, 2.0], [0.0, 0.0]], alpha=0.1, max_iter=500, criterion="grad", epsilon=1e-8)
    np.testing.assert_allclose(np.stack(res.runs["x_final"]), [[0.5, -0.25]] * 2, atol=1e-8)
    assert set(res.runs["status"]) == {"converged"}


@pytest.mark.parametrize("first, then", [("float32", "float64"), ("float64", "float32")])
def test_a_function_reading_a_numpy_array_descends_in_float32_then_float64_in_one_process(first, then):
    """JAX 0.10 keeps the JAX form of a NumPy array a function reads by the array alone, not by the
    float64 mode it was made in: while the first dtype's kernel lived, the second's found the array
    at the first's dtype and failed to lower, with a traceback (gdlab.core.precision)."""
    import jax.numpy as jnp
    centre = np.array([1 / 3, -0.25])

    def held(x):
        return jnp.sum((x - centre) ** 2)
    kept = []
    for dtype in (first, then):
        res = gdlab.descend(held, "gd", [[1.0, 2.0]], alpha=0.5, max_iter=50, dtype=dtype)
        kept.append(res)            # the first kernel stays alive, as in a notebook
        # α = 0.5 lands on the centre in one step: in float64 to its last bits, not float32's 1/3
        np.testing.assert_allclose(np.stack(res.runs["x_final"]), [[1 / 3, -0.25]],
                                   atol=1e-15 if dtype == "float64" else 1e-7, rtol=0)
        assert (abs(res.runs["x_final"].iloc[0][0] - 1 / 3) > 1e-10) == (dtype == "float32")


def test_an_array_changed_in_place_is_read_anew_by_the_next_float32_descent():
    """Its fingerprint sees the change and a new kernel is compiled; a float32 copy of the array kept
    from the first kernel's trace was read by the second, which ran on the old numbers."""
    import jax.numpy as jnp
    centre = np.array([1.0, 2.0])

    def held(x):
        return jnp.sum((x - centre) ** 2)
    kept = [gdlab.descend(held, "gd", [[0.0, 0.0]], alpha=0.5, max_iter=20, dtype="float32")]
    centre[:] = [-3.0, 5.0]
    kept.append(gdlab.descend(held, "gd", [[0.0, 0.0]], alpha=0.5, max_iter=20, dtype="float32"))
    assert [r.runs["x_final"].iloc[0] for r in kept] == [[1.0, 2.0], [-3.0, 5.0]]


def test_a_target_reading_a_numpy_array_sweeps_in_float32_and_its_report_draws_it(tmp_path, monkeypatch):
    """The command with dtype=float32 and a _target_ reading a NumPy array: the sweep ran, then the
    report's figures (float64) failed to lower while the float32 kernel lived; exit 1, no report."""
    from gdlab.report import build
    _target_module(tmp_path, monkeypatch, "jnp.sum((x - CENTRE) ** 2)", head="CENTRE = np.array([0.5, -0.25])")
    config = {"problems": [OWN], "method": ["gd"], "alpha": [0.1], "starts": {"kind": "grid", "n": 3},
              "max_iter": 300, "dtype": "float32", "out_dir": str(tmp_path / "out")}
    folder = run_to_folder(validate(config), log=lambda m: None, show_progress=False)
    logs = []
    page = build(folder, log=logs.append, show_progress=False)
    assert page.is_file() and (folder / "report" / "figures" / "own-paths.png").is_file()
    runs = gdlab.load(folder).runs
    np.testing.assert_allclose(np.stack(runs["x_final"]), [[0.5, -0.25]] * len(runs), atol=1e-4)
    monkeypatch.delitem(sys.modules, "own_objective")


def test_numpy_arrays_a_trace_reads_keep_jaxs_checks_and_are_one_constant_each_in_their_own_dtype():
    """gdlab.core.precision converts NumPy arrays itself where JAX's cache ignores the float64 mode:
    with JAX's own dtype check (the same TypeError for arrays JAX refuses); an array taken in its own
    dtype is one constant however often it is read, one converted is copied at each read."""
    import jax
    import jax.numpy as jnp

    from gdlab.core.precision import x64
    data = np.arange(4.0) / 3
    for on, dtype in ((False, np.float32), (True, np.float64), (False, np.float32)):
        with x64(on):
            jaxpr = jax.make_jaxpr(lambda x: x + data + x * data)(jnp.zeros(4, dtype))
        assert len(jaxpr.consts) == (1 if on else 2)            # read twice: a view, kept; or two copies
        for const in jaxpr.consts:
            assert const.dtype == dtype and np.asarray(const).tolist() == data.astype(dtype).tolist()
    for bad in (np.array([1.0, "a"], dtype=object), np.arange(3.0).astype(">f8")):
        with x64(True), pytest.raises(TypeError, match="Error interpreting argument to stage as a JAX value"):
            jax.make_jaxpr(lambda bad=bad: jnp.asarray(bad) * 1.0)()


# --- the engine's own API: gdlab.run_batch, stream_batch, trace_runs --------------------------------

def _outside(h) -> list[float]:
    """Values just outside a hyperparameter's range, and NaN."""
    out = [math.nan]
    if math.isfinite(h.low):
        out.append(h.low if not h.low_closed else h.low - 1.0)
    if math.isfinite(h.high):
        out.append(h.high if not h.high_closed else h.high + 1.0)
    return out


@pytest.mark.parametrize("name", gdlab.METHODS.names())
def test_run_batch_refuses_every_methods_hyperparameter_outside_its_range(name):
    """run_batch ran alpha = NaN or −1 and adam's b1 = 2, its runs ending diverged or wrong, with no error:
    the config's check of each method's ranges now holds on the engine's own API too."""
    method = gdlab.get_method(name)
    problem, x0 = gdlab.get_problem("himmelblau"), np.ones((3, 2))
    for hyper in (method.hyperparameter("alpha"), *method.hyper):
        for value in _outside(hyper):
            for one in (value, [0.5 * hyper.default if hyper.name == "alpha" else hyper.default, value, value]):
                hp = {"alpha": 0.01, hyper.name: one}
                with pytest.raises(gdlab.InputError, match=rf"method '{name}': {hyper.name} must be a number in "
                                                           rf"{re.escape(hyper.range)}"):
                    gdlab.run_batch(problem, name, x0, hp)


@pytest.mark.parametrize("name", ["bb1", "bb2"])
def test_a_barzilai_borwein_min_step_above_its_max_step_is_refused(name):
    """min_step 1 and max_step 0.1 ran, every step clipped to an empty interval, and the run diverged."""
    from gdlab.runner.schema import validate
    with pytest.raises(gdlab.ConfigError) as err:
        validate({"method": [{"name": name, "min_step": [0.01, 2.0], "max_step": 1.0}]})
    assert f"method: {name}: min_step 2 exceeds max_step 1: the step t is clipped to [min_step, max_step]; give " \
           "min_step ≤ max_step" in str(err.value)
    x0 = np.ones((3, 2))
    with pytest.raises(gdlab.InputError, match=rf"method '{name}': min_step 2 exceeds max_step 1"):
        gdlab.run_batch(gdlab.get_problem("himmelblau"), name, x0, {"alpha": 0.01, "min_step": [0.1, 2.0, 0.1],
                                                                        "max_step": 1.0})
    with pytest.raises(gdlab.ConfigError, match="min_step 1 exceeds max_step 0.1"):
        gdlab.descend("himmelblau", {"name": name, "min_step": 1.0, "max_step": 0.1}, [[0.0, 0.0]], alpha=0.01)
    ok = gdlab.descend("himmelblau", {"name": name, "min_step": 0.1, "max_step": 0.1}, [[0.0, 0.0]], alpha=0.01)
    assert len(ok.runs) == 1


@pytest.mark.parametrize("opts, says", [
    (dict(max_iter=0), "EngineOptions.max_iter must be a whole number of steps in"),
    (dict(max_iter=-5), "EngineOptions.max_iter"),
    (dict(max_iter=2.5), "EngineOptions.max_iter"),
    (dict(lanes=0), "EngineOptions.lanes must be None"),
    (dict(chunk=2.5), "EngineOptions.chunk must be None"),
    (dict(chunk=70_000), "EngineOptions.chunk must be None (the engine chooses) or a whole number in [1, 65,536]"),
    (dict(part=True), "EngineOptions.part must be None"),
    (dict(x_bound=math.inf), "EngineOptions.x_bound must be a finite number > 0"),
    (dict(f_bound=-1.0), "EngineOptions.f_bound must be a finite number > 0"),
    (dict(dtype="float16"), "dtype must be float32 or float64"),
])
def test_the_engines_api_refuses_options_it_cannot_run(opts, says):
    """max_iter = 0 ran no step and said every run had hit max_iter; lanes = 0 divided by zero."""
    problem, x0 = gdlab.get_problem("himmelblau"), np.ones((3, 2))
    for call in (lambda o: gdlab.run_batch(problem, "gd", x0, 0.01, opts=o),
                 lambda o: list(gdlab.stream_batch(problem, "gd", x0, 0.01, opts=o)),
                 lambda o: gdlab.trace_runs(problem, "gd", x0, 0.01, [3, 3, 3], opts=o)):
        with pytest.raises(gdlab.InputError, match=re.escape(says)):
            call(gdlab.EngineOptions(**opts))
    with pytest.raises(gdlab.InputError, match="opts must be gdlab.EngineOptions"):
        gdlab.run_batch(problem, "gd", x0, 0.01, opts={"max_iter": 5})


@pytest.mark.parametrize("name", [s for s in gdlab.SCHEDULES.names() if gdlab.SCHEDULES[s].hyper])
def test_run_batch_refuses_every_schedules_parameter_outside_its_range(name):
    from gdlab.core.methods import Stepper
    schedule = gdlab.SCHEDULES[name]
    stepper = Stepper(gdlab.METHODS["gd"], schedule)
    for hyper in schedule.hyper:
        for value in _outside(hyper):
            with pytest.raises(gdlab.InputError, match=rf"schedule '{name}': {hyper.name} must be a number in "
                                                       rf"{re.escape(hyper.range)}"):
                gdlab.run_batch(gdlab.get_problem("himmelblau"), stepper, np.ones((2, 2)),
                                {"alpha": 0.01, hyper.name: value})


# --- a folder's parts are its config's, of one gdlab version, and as many as its manifest counts -------

def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_sweep_begun_by_another_gdlab_version_is_refused_and_kept(sweep_copy, monkeypatch):
    """A later shard, or a resume after an upgrade, added its parts to those of the version before and
    called the sweep complete: two versions' runs (a problem or method changed between them) in one."""
    folder, _ = sweep_copy
    record = folder / "parts" / "part-00001.json"
    SweepFolder(folder).discard(2)            # a part left to compute (a finished sweep is only reported)
    before = _snapshot(folder)
    assert json.loads(record.read_text())["gdlab"] == gdlab.__version__
    monkeypatch.setattr("gdlab.runner.execute.__version__", "99.0")
    with pytest.raises(gdlab.FolderError, match=rf"gdlab {re.escape(gdlab.__version__)} computed \d+ parts \(part 0…\), "
                                                r"and this is gdlab 99.0: the runs of two versions must not mix"):
        _resume(folder)
    assert _snapshot(folder) == before          # nothing in it changed
    monkeypatch.undo()
    rec = json.loads(record.read_text())
    record.write_text(json.dumps({**rec, "gdlab": "0.0.9"}, indent=1))    # (a record by hand, or by an older gdlab)
    assert any(line.startswith("parts computed by different gdlab versions: 0.0.9 (part 1, 1 in all)")
               for line in verify(folder))
    with pytest.raises(gdlab.FolderError, match="gdlab 0.0.9 computed 1 part"):
        _resume(folder)


def test_a_part_copied_from_another_sweeps_folder_is_refused_by_load_listed_by_verify_and_recomputed(
        sweep_copy, tmp_path):
    """Copied in by hand (shards merged from two machines), another config's part was taken as this
    sweep's: resume called it complete, verify said ok, and load returned the other config's runs."""
    folder, original = sweep_copy
    other = run_to_folder(validate({**SMALL, "alpha": [0.03, 0.04]}), tmp_path / "other", log=lambda _: None,
                          show_progress=False)
    for table in ("runs", "stops", "curves", "traces"):
        shutil.copy(other / table / "part-00000.parquet", folder / table / "part-00000.parquet")
    shutil.copy(other / "parts" / "part-00000.json", folder / "parts" / "part-00000.json")
    why = f"its record names sweep {other.name}, not {folder.name} (this folder's config.yaml)"
    assert f"part 0: {why}: a part copied from another sweep's folder, or config.yaml edited since" in verify(folder)
    with pytest.raises(gdlab.FolderError, match=re.escape(f"part 0: {why}")):
        gdlab.load(folder)
    assert f"part 0: {why}" in _resume(folder)
    assert verify(folder) == []
    _same(_tables(folder), original)


def test_a_config_yaml_edited_or_deleted_is_named_by_verify_and_load(sweep_copy):
    """verify said ok of a folder whose config.yaml names another problem, and the report drew from it."""
    folder, _ = sweep_copy
    config = folder / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("- himmelblau", "- booth"))
    assert any("not " in line and "(this folder's config.yaml)" in line for line in verify(folder))
    with pytest.raises(gdlab.FolderError, match=r"\(and \d+ more parts\): its record names sweep"):
        gdlab.load(folder)
    code, err = _report_exit(folder)
    assert code == 1 and "this folder's config.yaml" in err and "Traceback" not in err
    config.unlink()
    assert any("config.yaml is missing, so which config this folder's parts were computed with cannot be told" in line
               for line in verify(folder))
    config.write_text(text)
    assert verify(folder) == []


def test_a_manifest_listing_fewer_parts_than_it_counts_is_refused_not_read_as_the_sweep(sweep_copy):
    """load and the report returned the listed subset of a 'complete' sweep, with exit 0."""
    folder, original = sweep_copy
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    n = len(manifest["parts"]["runs"])
    path.write_text(json.dumps({**manifest, "parts": {t: v[:1] for t, v in manifest["parts"].items()}}))
    says = f"says complete (of {n} parts, {manifest['n_runs']} runs in all) but lists 1 part of 16 runs"
    assert any(line.endswith(says) for line in verify(folder))
    with pytest.raises(gdlab.FolderError, match=re.escape(says) + ": run the sweep's command again to rebuild it"):
        gdlab.load(folder)
    code, err = _report_exit(folder)
    assert code == 1 and says in err
    assert "already complete" in _resume(folder)          # the command rebuilds it from the part records
    assert verify(folder) == []
    _same(_tables(folder), original)


# --- the Python API's edges -------------------------------------------------------------------------

def test_a_runs_type_is_classify_points_and_inspect_point_at_the_sweeps_tolerance():
    """The end of a descent 1.5e-4 from the minimum: a minimum to the runs table and classify_points
    (stationary_tol 0.05), non_stationary to inspect_point's own 1e-6 (∇f is not zero there, the
    lesson's question), and the runs table's type at the sweep's tolerance."""
    from gdlab.core.settings import STATIONARY_TOL
    r = gdlab.descend("x2_sin", "gd", [2.5], alpha=0.005, criterion="df", epsilon=1e-3, min_steps=100)
    x = r.runs["x_final"][0]
    assert 1e-5 < abs(x[0] - 5.08698509410228) < 0.05
    assert r.runs["point_type"][0] == "minimum"
    assert gdlab.classify_points(gdlab.get_problem("x2_sin"), [x]).tolist() == ["minimum"]
    assert gdlab.inspect_point("x2_sin", x, stationary_tol=STATIONARY_TOL).point_type == "minimum"
    assert gdlab.inspect_point("x2_sin", x).point_type == "non_stationary"


@pytest.mark.parametrize("call, says", [
    (lambda p: gdlab.classify_points("himmelblau", [[3, 2]]), "classify_points takes a gdlab.Problem"),
    (lambda p: gdlab.classify_points(p, [[3, 2, 1]]), "must be an (n, 2) array of numbers, got shape (1, 3)"),
    (lambda p: gdlab.classify_points(p, [[3.01, 2]], stationary_tol=-1), "stationary_tol must be a number > 0"),
    (lambda p: gdlab.classify_points(p, [[3, 2]], dtype="float16"), "dtype must be float32 or float64"),
    (lambda p: gdlab.run_batch("himmelblau", "gd", [[1.0, 1.0]], 0.01), "the engine takes a gdlab.Problem"),
    (lambda p: gdlab.run_batch(p, "gd", [[1.0, 1.0]], 0.01, [gdlab.StopRule("grad", -1e-4)]),
     "rules[0] StopRule(criterion='grad', epsilon=-0.0001, min_steps=0): epsilon must be a positive number"),
    (lambda p: gdlab.run_batch(p, "gd", [[1.0, 1.0]], 0.01, [gdlab.StopRule("grad", math.nan)]),
     "epsilon must be a positive number, got nan"),
    (lambda p: gdlab.run_batch(p, "gd", [[1.0, 1.0]], 0.01, [gdlab.StopRule("grad", 1e-4, 2.5)]),
     "min_steps must be a whole number in [0, 2,147,483,646], got 2.5"),
    (lambda p: gdlab.run_batch(p, "gd", [[1.0, 1.0]], 0.01, [gdlab.StopRule("gradient", 1e-4)]),
     "unknown criterion 'gradient' (did you mean 'grad'?)"),
    (lambda p: gdlab.run_batch(p, "gd", [[1.0, 1.0]], 0.01, [("grad", 1e-4)]),
     "rules[0] must be a gdlab.StopRule(criterion, epsilon, min_steps), got ('grad', 0.0001)"),
    (lambda p: gdlab.run_batch(p, "gd", [[1.0, 1.0]], 0.01, [gdlab.StopRule("grad", 1e-4, 500)],
                               gdlab.EngineOptions(max_iter=100)), "min_steps 500 is more than max_iter = 100"),
    (lambda p: gdlab.trace_runs(p, "gd", [[1.0, 1.0]], 0.01, [5], [gdlab.StopRule("grad", -1.0)]),
     "epsilon must be a positive number"),
    (lambda p: gdlab.descend(lambda x: (x[0] + 1j * x[1]) ** 2, "gd", [[1.0, 2.0]]),
     "must return a real floating-point number, got complex64"),
    (lambda p: gdlab.inspect_point(lambda x: jnp.sum(x).astype(jnp.int32), [1.0, 2.0]),
     "must return a real floating-point number, got int32"),
    (lambda p: gdlab.run_batch(gdlab.Problem(name="bowl", fn=lambda x: jnp.sum((x - 1) ** 2), dim=2,
                                             domain=[[-3, 3]] * 2, vectorized=True), "gd", [[0.0, 0.0]], 0.1),
     "problem 'bowl' says vectorized=True, so its fn must give n values for x of shape (d, n)"),
])
def test_the_python_apis_edges_are_errors_that_name_the_input(call, says):
    """Each raised deep in JAX, NumPy or pandas (or a negative epsilon ran every start to max_iter, and
    min_steps 2.5 ran as 2)."""
    with pytest.raises(gdlab.GdlabError) as err:
        call(gdlab.get_problem("himmelblau"))
    assert says in str(err.value)


def test_a_vectorized_problem_that_is_one_still_runs():
    bowl = gdlab.Problem(name="bowl", fn=lambda x: jnp.sum((x - 1) ** 2, axis=0), dim=2, domain=[[-3, 3]] * 2,
                         vectorized=True)
    out = gdlab.run_batch(bowl, "gd", [[0.0, 0.0]], 0.1, [gdlab.StopRule("grad", 1e-6)])
    np.testing.assert_allclose(out["x"][0], [1.0, 1.0], atol=1e-5)


def test_a_one_d_problems_minima_may_be_a_flat_list():
    made = gdlab.Problem(name="q", fn=lambda x: (x[0] - 2) ** 2, dim=1, domain=[[0, 5]], minima=[2.0], f_min=[0])
    assert made.minima == ((2.0,),) and made.f_min == (0.0,)
    with pytest.raises(gdlab.ProblemError, match=r"minima must be points of 2 number\(s\), one a row, got shape"):
        gdlab.Problem(name="q2", fn=lambda x: x[0] ** 2, dim=2, domain=[[0, 5]] * 2, minima=[1.0, 2.0, 3.0])


def test_load_takes_a_table_name_and_refuses_an_unknown_one(finished):
    folder, tables = finished
    runs_only = gdlab.load(folder, tables="runs")
    assert runs_only.runs.equals(tables["runs"]) and runs_only.stops.empty
    with pytest.raises(gdlab.InputError, match=r"tables: 'run' is not a table \(the tables: runs, stops, curves, "):
        gdlab.load(folder, tables=("run",))


def test_an_in_memory_sweep_of_a_shard_with_no_parts_says_so():
    with pytest.raises(gdlab.ConfigError, match="shard: shard 1 of 2 holds none of this sweep's 1 part"):
        gdlab.sweep({"problems": ["himmelblau"], "starts": {"kind": "points", "points": [[0, 0]]},
                     "shard": {"index": 1, "count": 2}})


def test_a_where_selection_is_refused_by_save_even_when_it_is_whole_parts(tmp_path):
    """A selection that happened to be whole parts was written as a 'partial' sweep folder."""
    r = gdlab.sweep({"problems": ["himmelblau"], "method": [{"name": "adam", "b1": [0.8, 0.9]}],
                     "starts": {"kind": "grid", "n": 2}, "max_iter": 50, "part_size": 4, "traces": 0})
    selection = r.where(b1=0.8)
    assert len(selection.runs) == 4
    with pytest.raises(gdlab.FolderError, match=r"these results are a selection \(\.where\(b1=0\.8\)\), not a sweep"):
        selection.save(tmp_path / "where", report=False, log=None)
    assert not (tmp_path / "where" / "parts").exists()


def test_names_too_long_for_a_file_name_are_config_errors():
    """A 300-character name= failed with "File name too long" (exit 1, "run again to resume"); a
    300-character problem name failed in the report."""
    with pytest.raises(gdlab.ConfigError, match="experiment: must be a name of at most 100 letters"):
        validate({"experiment": "a" * 300})
    with pytest.raises(gdlab.ConfigError, match="a problem's name must be text of 1 to 100 characters"):
        validate({"problems": [{"name": "q" * 300, "expr": "x**2", "domain": [[-1, 1]]}]})
    assert validate({"problems": [{"name": "q" * 100, "expr": "x**2", "domain": [[-1, 1]]}]}).problems[0].name


def test_a_part_from_before_records_named_their_sweep_is_trusted_only_where_the_manifest_lists_it(
        sweep_copy, tmp_path):
    """A part copied in from a folder written before records named their sweep passed as this sweep's."""
    folder, original = sweep_copy
    for record in (folder / "parts").glob("*.json"):      # this folder, as gdlab wrote it before: trusted
        rec = json.loads(record.read_text())
        record.write_text(json.dumps({k: v for k, v in rec.items() if k not in ("sweep", "gdlab")}, indent=1))
    assert verify(folder) == [] and "already complete" in _resume(folder)
    other = run_to_folder(validate({**SMALL, "alpha": [0.03, 0.04]}), tmp_path / "other", log=lambda _: None,
                          show_progress=False)
    for table in ("runs", "stops", "curves", "traces"):
        shutil.copy(other / table / "part-00001.parquet", folder / table / "part-00001.parquet")
    rec = json.loads((other / "parts" / "part-00001.json").read_text())
    (folder / "parts" / "part-00001.json").write_text(json.dumps({k: v for k, v in rec.items() if k != "sweep"}))
    assert any(line.startswith("part 1: its record names no sweep (written before records named theirs) and the "
                               "manifest does not list it") for line in verify(folder))
    assert "part 1: its record names no sweep" in _resume(folder)
    assert verify(folder) == []
    _same(_tables(folder), original)


def test_a_record_beyond_the_sweeps_parts_is_removed_and_never_listed(sweep_copy, tmp_path):
    folder, original = sweep_copy
    n = len(json.loads((folder / "manifest.json").read_text())["parts"]["runs"])
    other = run_to_folder(validate({**SMALL, "part_size": 4}), tmp_path / "other", log=lambda _: None,
                          show_progress=False)
    stray = f"part-{n + 1:05d}"
    for table in ("runs", "stops", "curves", "traces"):
        shutil.copy(other / table / f"{stray}.parquet", folder / table / f"{stray}.parquet")
    shutil.copy(other / "parts" / f"{stray}.json", folder / "parts" / f"{stray}.json")
    assert f"part {n + 1}: is not a part of this sweep (it has {n} parts); removed" in _resume(folder)
    assert not (folder / "parts" / f"{stray}.json").exists() and verify(folder) == []
    _same(_tables(folder), original)


def test_the_manifest_says_its_status_from_the_parts_it_lists(sweep_copy):
    """Two shards finishing together: the status came from one scan of the records and the list from a
    later one, and readers refused the healthy folder that made."""
    folder, original = sweep_copy
    manifest = json.loads((folder / "manifest.json").read_text())
    n = manifest["n_parts"]
    made = SweepFolder(folder).write_manifest({**manifest, "status": f"partial: 1 of {n} parts"}, planned=n)
    assert made["status"] == "complete" and made["gdlab"] == gdlab.__version__
    (folder / "manifest.json").write_text(json.dumps({**made, "status": f"partial: 1 of {n} parts"}))
    _same(_tables(folder), original)      # listing more finished parts than a partial status counts is no harm


def test_a_finished_sweep_run_again_by_another_version_computes_nothing_and_is_not_refused(sweep_copy, monkeypatch):
    folder, original = sweep_copy
    monkeypatch.setattr("gdlab.runner.execute.__version__", "99.0")
    assert "already complete" in _resume(folder)
    assert json.loads((folder / "manifest.json").read_text())["gdlab"] == gdlab.__version__    # the parts' own
    _same(_tables(folder), original)


def test_hyperparameter_rows_given_whole_are_checked_too():
    """trace_runs' (n, H) rows and a RunSource's slices skipped the range check: a negative step ran."""
    from gdlab.engine.driver import RunSource
    p, x0 = gdlab.get_problem("himmelblau"), np.ones((2, 2))
    for rows, says in ((np.array([[-0.01], [0.01]]), "got -0.01"), (np.array([[np.nan], [0.01]]), "got nan")):
        with pytest.raises(gdlab.InputError, match=f"method 'gd': alpha must be a number in \\(0, inf\\).*{says}"):
            gdlab.trace_runs(p, "gd", x0, rows, [5, 5])
        with pytest.raises(gdlab.InputError, match=f"alpha must be a number in .*{says}"):
            list(gdlab.stream_batch(p, "gd", RunSource(2, lambda a, b, rows=rows: (x0[a:b], rows[a:b]))))
    with pytest.raises(gdlab.InputError, match=r"method 'adam': b1 must be a number in \[0, 1\)"):
        gdlab.trace_runs(p, "adam", x0[:1], np.array([[0.1, 2.0, 0.999, 1e-8]]), [5])


def test_a_domain_too_wide_for_its_starts_is_a_config_error():
    """[-1e308, 1e308] (width inf) and [0, 1e308] in float32 made every start inf or NaN: invalid_start."""
    bowl = {"name": "bowl", "expr": "x**2"}
    with pytest.raises(gdlab.ConfigError, match="a finite width hi − lo"):
        validate({"problems": [{**bowl, "domain": [[-1e308, 1e308]]}], "dtype": "float64"})
    with pytest.raises(gdlab.ConfigError, match="reaches beyond float32's range"):
        validate({"problems": [{**bowl, "domain": [[0, 1e308]]}], "dtype": "float32"})
    assert validate({"problems": [{**bowl, "domain": [[0, 1e308]]}], "dtype": "float64"}).problems[0]


def test_a_vector_function_given_an_n_by_d_array_is_told_to_sum_not_to_give_that_array():
    with pytest.raises(gdlab.InputError) as err:
        gdlab.descend(lambda x: x ** 2, "gd", [[1.0, 2.0]])
    assert str(err.value).endswith("it must return one number (sum over coordinates)")
    with pytest.raises(gdlab.InputError, match=r"sum over coordinates, or give the starts as an \(n, d\) array"):
        gdlab.descend(lambda x: jnp.stack([x[0], x[0]]), "gd", [1.0, 2.0])



HIMMELBLAU = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"


@pytest.mark.parametrize("expr, listed, says", [
    # where f's derivatives and values agree that a listed point is not a minimum within success_tol: a warning
    ("(x - 1)**2 + 3*(y + 0.5)**2", [1, 0.5], "converges to the minimum [1, -0.5] (f = 0 there, 3 at"),
    ("(x - 1)**2 + 3*(y + 0.5)**2", [1.004, -0.5], "[1, -0.5] (f = 0 there, 1.6e-05 at the listed point), 0.004 away"),
    (HIMMELBLAU, [-2.81, 3.13], "List that minimum as [-2.805118087, 3.131312518], or raise"),   # rounded too coarsely
    ("100*(y - x**2)**2 + (1 - x)**2", [1.01, 1.02], "converges to the minimum [1, 1]"),
    ("x**4 - 3*x**2 + x", [-1.29], "converges to the minimum [-1.300839566]"),
    ("(x - 7)**2 + y**2", [4.9, 0], "the minimum [7, 0] outside the domain (which bounds the starts, not the runs)"),
    ("x**2 - y**2", [0, 0], "is a saddle of f, not a minimum: f's quadratic model there is stationary within "
                            "success_tol = 0.001 (‖∇f‖ = 0, the Hessian's eigenvalues (-2, 2))"),
    ("-(x**2) - y**2", [0, 0], "is a maximum of f"),
    # within success_tol of a minimum, or where nothing here can tell: no warning
    ("(x - 1)**2 + 3*(y + 0.5)**2", [1.0004, -0.5], None),
    (HIMMELBLAU, [-2.805, 3.131], None),
    (HIMMELBLAU, [0, 0], None),                   # not a minimum, but f is not convex there: Newton's step says nothing
    ("x**4 - 3*x**2 + x", [-1.3008], None),       # docs/teachers.md's quartic, its minimum -1.30084…
    ("abs(x) + y**2", [0, 0], None),              # kinks: JAX's slope there is one side's, and the model fails
    ("(x**2 - 1)**2 + 0.5*abs(x)", [0], None),    # (a descent along it would fall into a deeper basin)
    ("x**2 + 0.5*abs(x)", [0.0004], None),
    ("3*abs(x) - 10*exp(-(x + 3)**2)", [0.0004], None),
    ("x**2 + (y**2 - 0.0008**2)**2", [0, 0], None),           # a saddle with minima 0.0008 from it
    ("(x - 1)**2 - 1e-4*cos(5000*(x - 1))", [1.0006], None),  # a maximum 0.0006 from the minimum
    ("sqrt(x**2 + y**2)", [0, 0], None),          # ∇f is nan at the tip
    ("x**4 + y**2", [0, 0], None),                # the Hessian cannot tell
    ("(x**2 + y**2)**2 - 2*(x**2 + y**2)", [0, 0.9], None),   # a ring of minima: degenerate along it
    # f on a scale of 1e-13 with a kink at its minimum: Newton's steps must lower f
    ("1e-8*((x + 0.004)**2 + 0.01*(abs(x) + 0.002 - abs(abs(x) - 0.002))/2)", [0], None),
])
def test_a_listed_minimum_that_seems_not_one_within_success_tol_is_a_warning_saying_where_the_minimum_is(
        expr, listed, says):
    """A run succeeds when it ends within success_tol of a listed minimum: a minimum listed off by
    more than that made every success rate of its problem wrong (0 where every run reached f's
    minimum), unsaid where f_min was given too. The check is a doubt, not a proof (a minimum narrower
    than success_tol beside the listed point can escape it): a warning, and the sweep runs."""
    import warnings
    config = {"problems": [{"name": "p", "expr": expr, "domain": [[-5, 5]] * len(listed), "minima": [listed]}],
              "starts": {"kind": "grid", "n": 3}, "max_iter": 5}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert len(gdlab.sweep(config).runs) == 3 ** len(listed)
    doubts = [str(w.message) for w in seen if "its listed minimum" in str(w.message)]
    if says is None:
        assert doubts == []
    else:
        assert len(doubts) == 1 and says in doubts[0], doubts
        assert doubts[0].startswith(f"problem 'p': its listed minimum {listed}")


def test_the_command_warns_of_a_misplaced_minimum_before_the_sweep_and_in_the_report_for_the_configs_own_minima(
        tmp_path):
    from gdlab.core.expressions import inline_problem, listed_by_config
    from gdlab.core.problems import get_problem
    done = subprocess.run([sys.executable, "-m", "gdlab", f"out_dir={tmp_path}", "problems=[{name: bowl, expr: "
                           "'(x - 1)**2 + 10*(y + 2)**2', domain: [[-5, 5], [-5, 5]], minima: [[1, 2]]}]",
                           "starts={kind: grid, n: 4}", "method=[gd]", "alpha=[0.01]"],
                          capture_output=True, text=True, cwd=tmp_path)
    said = done.stderr + done.stdout
    assert done.returncode == 0, said
    doubt = "warning: problem 'bowl': its listed minimum [1, 2] is not where f has its minimum"
    assert said.index(doubt) < said.index("runs in")          # said before the sweep (and again by the report)
    assert "List that minimum as [1, -2], or raise success_tol" in said
    [page] = tmp_path.glob("*/*/report/index.html")
    assert "its listed minimum [1, 2] is not where f has its minimum" in page.read_text()
    # the registry's minima are tested (test_problems), and a penalised function's minimiser lies about 1/μ
    # from the constrained minimum its config lists (experiment=constraints)
    fence = {"name": "fence", "expr": "-x1*x2", "domain": [[0, 10], [0, 10]], "minima": [[5, 5]],
             "constraints": {"eq": ["2*x1 + 2*x2 - 20"], "penalty": 10}}
    assert not listed_by_config(get_problem("himmelblau")) and not listed_by_config(inline_problem(fence))
    assert listed_by_config(inline_problem({k: v for k, v in fence.items() if k != "constraints"}))


def test_a_listed_minimum_whose_f_cannot_be_evaluated_in_float64_is_passed_not_a_crash():
    """The check evaluates f in float64: a function written for float32 alone (a loop whose carry is
    float32) cannot be, and its sweep runs as it did (in float32) instead of failing at its start."""
    import jax

    from gdlab.core.points import misplaced_minimum
    from gdlab.core.problems import Problem

    def float32_only(x):
        return jax.lax.fori_loop(0, 2, lambda i, a: a + (x[i] - 1.0) ** 2, jnp.float32(0.0))

    p = Problem(name="f32", fn=float32_only, dim=2, domain=((-2.0, 2.0), (-2.0, 2.0)), minima=((1.0, 2.0),),
                f_min=(0.0,))
    assert misplaced_minimum(p, [1.0, 2.0], 1e-3) is None


def test_a_listed_minimum_near_another_listed_one_or_below_float32s_resolution_raises_no_doubt():
    """Runs that end at a minimum listed too count as successes; a float32 run cannot end nearer a
    point than float32's resolution, so a success_tol below it judges nothing the check could."""
    from gdlab.core.expressions import inline_problem
    from gdlab.core.points import misplaced_minimum
    both = inline_problem({"name": "two", "expr": HIMMELBLAU, "domain": [[-5, 5], [-5, 5]], "minima": [[3, 2], [3.01, 2]]})
    assert misplaced_minimum(both, [3.01, 2], 1e-3) is None
    alone = inline_problem({"name": "one", "expr": HIMMELBLAU, "domain": [[-5, 5], [-5, 5]], "minima": [[3.01, 2]]})
    assert "converges to the minimum [3, 2]" in misplaced_minimum(alone, [3.01, 2], 1e-3)
    p = inline_problem({"name": "tenth", "expr": "(x - 0.1)**2", "domain": [[-1, 1]], "minima": [[float(np.float32(0.1))]]})
    assert misplaced_minimum(p, [float(np.float32(0.1))], 1e-9, "float32") is None
    assert "converges to the minimum [0.1]" in misplaced_minimum(p, [float(np.float32(0.1))], 1e-9, "float64")


def test_a_target_that_cannot_give_its_minimas_f_in_float64_is_a_config_error_saying_to_give_f_min(tmp_path,
                                                                                                     monkeypatch):
    """f_min, where a config leaves it out, is f at the listed minima in float64: a function written
    for float32 alone (a loop whose carry is float32) raised JAX's TypeError, a traceback."""
    from gdlab.core.errors import ConfigError
    _target_module(tmp_path, monkeypatch, "jax.lax.fori_loop(0, 2, lambda i, a: a + (x[i] - 1.0) ** 2, jnp.float32(0))",
                   head="import jax")
    config = {"problems": [{**OWN, "minima": [[1, 1]]}], "starts": {"kind": "grid", "n": 3}, "max_iter": 5}
    with pytest.raises(ConfigError, match=r"problems\[0\]: problem 'own': f could not be evaluated at its minima in "
                                          r"float64 to give f_min \(TypeError: .*\): give f_min with the minima"):
        gdlab.sweep(config)
    ran = gdlab.sweep({**config, "problems": [{**OWN, "minima": [[1, 1]], "f_min": [0.0]}]})
    assert len(ran.runs) == 9 and (ran.runs["dist_to_min"] >= 0).all()
    monkeypatch.delitem(sys.modules, "own_objective")


@pytest.mark.parametrize("f_min, says", [
    ([5.0], "f at its listed minimum [1, -2] is 0, but its f_min says 5 (a difference of 5, more than f_target = "
            "1e-06): f − f* and the ECDF targets are measured from 5, so a run that ends at that minimum reads -5"),
    ([-1e-5], "reads +1e-05 from f*. Give f_min as f there (0), or leave f_min out"),
    ([0.0], None), ([-1e-7], None), (None, None),
])
def test_an_f_min_farther_than_f_target_from_f_at_its_listed_minimum_is_a_warning(f_min, says):
    """f − f* and the report's targets are measured from f_min: one that is not f at its minimum
    (a typo, or rounded coarser than f_target) made every run at that minimum miss the targets, or
    read below f*."""
    import warnings
    problem = {"name": "bowl", "expr": "(x - 1)**2 + 10*(y + 2)**2", "domain": [[-5, 5], [-5, 5]], "minima": [[1, -2]]}
    config = {"problems": [{**problem, **({} if f_min is None else {"f_min": f_min})}],
              "starts": {"kind": "grid", "n": 3}, "max_iter": 5}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        gdlab.sweep(config)
    doubts = [str(w.message) for w in seen if "f_min says" in str(w.message)]
    assert doubts == [] if says is None else (len(doubts) == 1 and says in doubts[0]), doubts
