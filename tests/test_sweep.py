"""Configs: composition, validation (every bad key at once), expansion, tables and their columns."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import gdlab
from gdlab.core.errors import ConfigError
from gdlab.runner.experiments import CONFIG_DIR
from gdlab.runner.plan import expand
from gdlab.runner.schema import DEFAULTS, register_schema, validate

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def compose_config(*overrides) -> dict:
    register_schema()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=list(overrides))
    out = OmegaConf.to_container(cfg, resolve=True)
    out.pop("hydra", None)
    return out


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_validates(name):
    sw = validate(compose_config(f"experiment={name}"))
    runs, starts = expand(sw)
    assert len(runs) > 0 and sw.experiment == name


def test_the_schema_is_the_default_config():
    composed = compose_config("experiment=default")
    assert set(composed) == set(DEFAULTS)


@pytest.mark.parametrize("key, value, piece", [
    ("foo", 1, "foo: unknown key"),
    ("max_iter", "abc", "max_iter: must be an integer"),
    ("alpha", [0.0], "alpha: must be a number > 0"),
    ("epsilon", [-1e-3], "epsilon: must be a number > 0"),
    ("max_iter", 0, "max_iter: must be an integer ≥ 1"),
    ("criterion", [], "criterion: empty list"),
    ("problems", ["nope"], "problems[0]: unknown problem 'nope'"),
    ("method", ["warp"], "method: must be one of"),
    ("starts", {"kind": "points", "points": [[1.0]]}, "starts.points[0]: [1.0] is not of dimension 2"),
    ("starts", {"kind": "points", "points": [[1.0, float("nan")]]}, "is not finite"),
    ("dtype", "float16", "dtype: must be float32 or float64"),
    ("shard", {"index": 4, "count": 4}, "shard.index: must be an integer in [0, 4)"),
    ("curves", "no", "curves: must be true or false"),
])
def test_each_bad_key_alone(key, value, piece):
    with pytest.raises(ConfigError) as err:
        validate({key: value})
    assert len(err.value.problems) == 1 and piece in err.value.problems[0]


@pytest.mark.parametrize("config, message", [
    ({"alpah": [0.1]}, "alpah: unknown key (did you mean 'alpha'?) (known: alpha,"),
    ({"problems": ["himelblau"]}, "problems[0]: unknown problem 'himelblau' (did you mean 'himmelblau'?); known:"),
    ({"method": ["momentun"]}, f"method: must be one of {', '.join(sorted(gdlab.METHODS))}, got 'momentun' "
                               "(did you mean 'momentum'?)"),
    ({"criterion": ["DF"]}, "criterion: must be one of dx, df, grad, got 'DF' (did you mean 'df'?)"),
    ({"starts": {"kind": "uniform", "n": 5, "sed": 1}},
     "starts.sed: unknown key (did you mean 'seed'?) (allowed: kind, n, seed, points)"),
    ({"engine": {"lane": 64}}, "engine.lane: unknown key (did you mean 'lanes'?) (allowed: lanes, part, chunk)"),
    ({"shard": {"idx": 1}}, "shard.idx: unknown key (did you mean 'index'?) (allowed: index, count)"),
    ({"lessons": ["multistrat"]}, "lessons: unknown scenario 'multistrat' (did you mean 'multistart'?)"),
    ({"zzz": 1}, "zzz: unknown key (known: alpha,"),             # nothing close: no guess
    ({"shard": 3}, "shard: must be a mapping with keys index, count, got 3"),
    ({"problems": [abs]}, "problems[0]: a problem is a name, a mapping or a gdlab.Problem, got the function "
                          "'abs': give it a domain with Problem("),
])
def test_a_misspelt_name_gets_the_closest_known_one_and_a_bare_function_what_to_wrap_it_in(config, message):
    with pytest.raises(ConfigError) as err:
        validate(config)
    assert err.value.problems == [p for p in err.value.problems if p.startswith(message)] and \
        len(err.value.problems) == 1, err.value.problems


def test_overrides_reach_the_sweep():
    sw = validate(compose_config("alpha=[0.1,0.01]", "max_iter=7", "dtype=float64"))
    assert list(dict.fromkeys(dict(s.hyper)["alpha"] for s in sw.settings)) == [0.1, 0.01] and sw.max_iter == 7 and sw.dtype == "float64"


def test_many_bad_points_make_one_line_with_a_count_and_the_first_three():
    from gdlab.core.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        validate({"problems": ["x2_sin"], "starts": {"kind": "points", "points": [[-10.0 + i] for i in range(9)]}})
    lines = str(err.value).splitlines()[1:]
    assert lines == ["  - starts.points: 9 of 9 points are outside the domain [[1.0, 8.0]] of problem x2_sin: "
                     "[0] [-10.0], [1] [-9.0], [2] [-8.0], … (6 more) (widen it with {name: ..., domain: ...})"]


def test_every_bad_key_is_named_at_once():
    with pytest.raises(ConfigError) as err:
        validate({"foo": 1, "alpha": [0.1, -1], "epsilon": [], "max_iter": 0, "method": ["gd", "warp"],
                  "problems": ["himmelblau", "nope"], "momentum": [1.5], "criterion": ["dy"],
                  "min_steps": [-1], "dtype": "float16",
                  "starts": {"kind": "points", "points": [[1, 2, 3], [9, 9], ["a", 1]]}})
    text = "\n".join(err.value.problems)
    for piece in ["foo: unknown key", "alpha: must be a number > 0", "epsilon: empty list", "max_iter: must be",
                  "method: must be one of", "problems[1]: unknown problem 'nope'", "momentum: must be a number in",
                  "criterion: must be one of", "min_steps: must be", "dtype: must be",
                  "starts.points[0]: [1, 2, 3] is not of dimension 2", "starts.points[1]: [9, 9] is outside the domain",
                  "starts.points[2]: ['a', 1] is not a list of numbers"]:
        assert piece in text, piece
    assert len(err.value.problems) == 13


def test_expansion_order_and_momentum_axis():
    sw = validate({"problems": ["booth"], "method": ["gd", "momentum"], "alpha": [0.1, 0.2],
                   "momentum": [0.5, 0.9], "starts": {"kind": "grid", "n": 3}})
    runs, starts = expand(sw)
    assert len(runs) == 2 * 9 + 2 * 2 * 9
    assert runs["run_id"].tolist() == list(range(len(runs)))
    assert runs.loc[runs.method == "gd", "momentum"].isna().all()
    assert sorted(runs.loc[runs.method == "momentum", "momentum"].unique()) == [0.5, 0.9]
    np.testing.assert_array_equal(starts["booth"][0], [-10, -10])
    np.testing.assert_array_equal(starts["booth"][-1], [10, 10])


def test_uniform_starts_are_seeded():
    sw = validate({"problems": ["himmelblau"], "starts": {"kind": "uniform", "n": 100, "seed": 3}})
    a = expand(sw)[1]["himmelblau"]
    b = expand(sw)[1]["himmelblau"]
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100, 2) and (np.abs(a) <= 5).all()


REQUIRED = {
    "runs": {"run_id": "int64", "problem": "str", "dim": "int", "method": "str", "alpha": "float",
             "momentum": "float", "x0": "list", "x_final": "list", "f_final": "float", "grad_norm_final": "float",
             "n_iter": "int", "status": "str", "min_id": "int", "dist_to_min": "float", "f_gap": "float"},
    "stops": {"run_id": "int64", "criterion": "str", "epsilon": "float", "min_steps": "int", "fired": "bool",
              "step": "int", "f_at_stop": "float", "dist_to_min_at_stop": "float", "f_gap_at_stop": "float"},
    "curves": {"run_id": "int64", "step": "int", "f": "float", "grad_norm": "float"},
    "traces": {"run_id": "int64", "step": "int", "x": "list", "f": "float"},
}


def check_columns(table: str, frame: pd.DataFrame):
    for col, kind in REQUIRED[table].items():
        assert col in frame.columns, (table, col)
        dt = frame[col].dtype
        ok = {"int64": lambda: dt == np.int64, "int": lambda: pd.api.types.is_integer_dtype(dt),
              "float": lambda: pd.api.types.is_float_dtype(dt), "bool": lambda: pd.api.types.is_bool_dtype(dt),
              "str": lambda: pd.api.types.is_string_dtype(dt),
              "list": lambda: isinstance(dt, pd.ArrowDtype) and pa.types.is_list(dt.pyarrow_dtype)}[kind]()
        assert ok, (table, col, dt)


def test_sweep_tables_have_the_contract_columns():
    r = gdlab.sweep({"problems": ["himmelblau", "saddle_3x2_2xy"], "method": ["gd", "nesterov"],
                     "alpha": [0.01], "starts": {"kind": "grid", "n": 4}, "max_iter": 300, "traces": 2})
    for table in ("runs", "stops", "curves", "traces"):
        check_columns(table, getattr(r, table))
    assert len(r.stops) == len(r.runs) * 6
    assert set(r.runs["status"]) <= {"converged", "max_iter", "diverged", "nonfinite", "invalid_start"}
    assert (r.runs.loc[r.runs.problem == "saddle_3x2_2xy", "min_id"] == -1).all()
    assert r.runs.loc[r.runs.problem == "saddle_3x2_2xy", "f_gap"].isna().all()
    # two traced starts for each (problem, method, alpha)
    assert r.traces["run_id"].nunique() == 2 * 2 * 2


def test_each_part_holds_its_runs_records_in_run_order_whatever_order_they_finish():
    """Runs of very different lengths finish out of order, and one call's records belong to several
    parts (part_size 97, 64 lanes): every run's row holds its own record, the one run_batch gives
    for its start."""
    from gdlab.core.criteria import stop_rules
    from gdlab.engine import EngineOptions, run_batch
    from gdlab.runner.schema import resolve_problem
    cfg = {"problems": ["himmelblau"], "method": ["gd"], "alpha": [0.001, 0.012],
           "starts": {"kind": "uniform", "n": 700, "seed": 5}, "criterion": ["df", "grad"], "epsilon": [1e-6],
           "max_iter": 3000, "dtype": "float64", "traces": 0, "part_size": 97,
           "engine": {"lanes": 64, "part": 128, "chunk": None}}
    r = gdlab.sweep(cfg)
    p = resolve_problem("himmelblau")
    x0 = np.stack(r.runs["x0"].to_numpy())[:700]
    opts = EngineOptions(max_iter=3000, dtype="float64", lanes=64)
    for i, alpha in enumerate((0.001, 0.012)):
        ref = run_batch(p, "gd", x0, alpha, stop_rules(["df", "grad"], [1e-6], [0]), opts)
        runs = r.runs.iloc[700 * i:700 * (i + 1)]
        assert np.ptp(ref["k"]) > 50                               # lengths differ widely
        np.testing.assert_array_equal(runs["n_iter"], ref["k"])
        np.testing.assert_array_equal(np.stack(runs["x_final"].to_numpy()), ref["x"])
        np.testing.assert_array_equal(runs["f_final"], ref["f"])
        stops = r.stops.iloc[1400 * i:1400 * (i + 1)]
        np.testing.assert_array_equal(stops["step"].to_numpy().reshape(700, 2), ref["fired"])
        curves = r.curves[r.curves.run_id.between(700 * i, 700 * i + 699)]
        last = curves.groupby("run_id").tail(1)
        np.testing.assert_array_equal(last["step"], ref["k"])
        np.testing.assert_array_equal(last["f"], ref["f"])


@pytest.mark.parametrize("shape, dtype", [((), np.float32), ((), bool), ((2,), np.float32), ((3,), np.int8),
                                          ((22,), np.float32), ((2, 3), np.float64), ((0,), np.int32)])
def test_part_records_put_each_run_s_row_whole_where_it_belongs(shape, dtype):
    """A part's record field of any row shape and dtype (rows moved as their bytes) gets, from calls
    in any order and given as slices or indices, each run's own row."""
    from gdlab.runner.execute import _PartRecords
    rng = np.random.default_rng(len(shape) + np.dtype(dtype).itemsize)
    n = 1000
    want = (rng.normal(size=(n, *shape)) * 50).astype(dtype)
    got = _PartRecords(n)
    order = rng.permutation(n)
    for lo, hi in ((0, 1), (1, 300), (300, 301), (301, n)):
        pos = order[lo:hi]
        extra = rng.normal(size=(len(pos) + 5, *shape)).astype(dtype)    # a call's other runs
        at = rng.permutation(len(extra))[:len(pos)]
        extra[at] = want[pos]
        if hi - lo == 1:            # one run: a slice of the call's records
            got.put({"v": extra[at[0]:at[0] + 1]}, pos, slice(None))
        else:
            got.put({"v": extra}, pos, at)
    got.put({"v": want[:0]}, np.zeros(0, np.int64), np.zeros(0, np.int64))     # no runs: nothing moves
    assert got.left == 0
    assert got.fields["v"].shape == want.shape and got.fields["v"].dtype == want.dtype
    np.testing.assert_array_equal(got.fields["v"], want)
    # a call whose field comes in another dtype is converted, as assignment converts it
    if want.size:
        other = _PartRecords(n)
        other.put({"v": want[:1]}, np.array([0]), slice(None))
        wider = want.astype(np.float64) if want.dtype != np.float64 else want.astype(np.float32)
        other.put({"v": wider[1:]}, np.arange(1, n), slice(None))
        expected = want.copy()
        expected[1:] = wider[1:]
        np.testing.assert_array_equal(other.fields["v"], expected)


def test_a_sweep_without_curves_has_the_same_runs_stops_and_traces_and_no_curve_rows():
    cfg = {"problems": ["himmelblau", "x2_sin"], "method": ["gd", "momentum"], "alpha": [0.01], "momentum": [0.5],
           "starts": {"kind": "grid", "n": 5}, "max_iter": 500, "dtype": "float64", "traces": 1}
    full, final = gdlab.sweep(cfg), gdlab.sweep({**cfg, "curves": False})
    for table in ("runs", "stops", "traces"):
        pd.testing.assert_frame_equal(getattr(final, table), getattr(full, table))
    assert len(full.curves) > 3 * len(full.runs) and len(final.curves) == 0
    check_columns("curves", final.curves)


def test_curves_joins_the_sweep_id_only_when_turned_off():
    from gdlab.runner.schema import merge
    from gdlab.storage import sweep_id
    cfg = merge({"problems": ["himmelblau"]})
    before = {k: v for k, v in cfg.items() if k != "curves"}     # a config from before the key existed
    assert cfg["curves"] is True
    assert sweep_id(cfg) == sweep_id(before) != sweep_id({**cfg, "curves": False})


def test_inline_expression_problem_runs_and_differentiates():
    bowl = {"name": "my_bowl", "expr": "(x - 1)**2 + 10*(y + 2)**2", "domain": [[-5, 5], [-5, 5]],
            "minima": [[1, -2]]}
    r = gdlab.sweep({"problems": [bowl], "alpha": [0.02], "starts": {"kind": "grid", "n": 5},
                     "criterion": ["grad"], "epsilon": [1e-6], "dtype": "float64", "traces": 0})
    assert (r.runs["status"] == "converged").all()
    assert (r.runs["dist_to_min"] < 1e-6).all()
    assert (r.runs["f_gap"].abs() < 1e-10).all()


def test_parts_dictionary_encode_text_and_few_valued_columns_and_split_or_delta_the_rest():
    import pyarrow.parquet as pq

    from gdlab.storage.folder import column_encodings as _encodings
    n = 10_000
    frame = pd.DataFrame({"run_id": np.arange(n), "problem": ["himmelblau"] * n,
                          "status": pd.Categorical(["converged", "max_iter"] * (n // 2)),
                          "alpha": np.repeat([0.01, 0.02], n // 2),
                          "f": np.linspace(0, 1, n, dtype=np.float32).astype(np.float64),
                          "step": np.tile(np.arange(12), n // 12 + 1)[:n], "fired": np.arange(n) % 3 == 0})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    enc = _encodings(table)
    assert enc["use_dictionary"] == ["problem", "status", "alpha", "step"]
    assert enc["column_encoding"] == {"run_id": "DELTA_BINARY_PACKED", "f": "BYTE_STREAM_SPLIT"}
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **enc)
    buf = sink.getvalue()
    meta = pq.ParquetFile(pa.BufferReader(buf)).metadata.row_group(0)
    used = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    assert "DELTA_BINARY_PACKED" in used["run_id"] and "BYTE_STREAM_SPLIT" in used["f"]
    assert "RLE_DICTIONARY" in used["alpha"]
    plain = pa.BufferOutputStream()
    pq.write_table(table, plain, use_dictionary=enc["use_dictionary"])
    # the same values and types come back as from a plain file, and the frame itself
    assert pq.read_table(pa.BufferReader(buf)).equals(pq.read_table(pa.BufferReader(plain.getvalue())))
    pd.testing.assert_frame_equal(pd.read_parquet(pa.BufferReader(buf)), frame, check_exact=True)
    # a float32 sweep's widened floats compress: the split leaves their zero bytes in a stream of their own
    assert buf.size < 0.8 * plain.getvalue().size
    # the curves' run ids repeat a run's checkpoints at a time: few among the first rows, distinct over
    # the column (a dictionary of every run id cost 10% of writing a curves part); a step's few values
    curves = pa.table({"run_id": np.repeat(np.arange(n), 17), "step": np.tile(np.arange(17), n)})
    assert _encodings(curves) == {"use_dictionary": ["step"], "column_encoding": {"run_id": "DELTA_BINARY_PACKED"}}


def test_parts_tables_are_built_in_order_on_a_thread_and_a_failure_is_raised_after_the_rest_is_built():
    import threading

    from gdlab.runner.execute import _Stage
    done, threads = [], set()

    def work(i):
        threads.add(threading.current_thread().name)
        if i == 1:
            raise ZeroDivisionError("part 1")
        done.append(i)

    stage = _Stage(work, "gdlab-tables")
    stage.submit(0)
    stage.submit(1)
    with pytest.raises(ZeroDivisionError, match="part 1"):     # at the next submit, once 1 is done
        stage.submit(2)
    stage.finish(raising=False)                               # stopping: what was queued is built all the same
    assert done == [0, 2] and threads == {"gdlab-tables_0"}
    stage = _Stage(work, "gdlab-tables")
    stage.submit(0)
    stage.submit(1)
    with pytest.raises(ZeroDivisionError, match="part 1"):     # the last one's failure, at the end
        stage.finish()


def test_tables_built_on_their_own_thread_are_those_built_in_the_loop(monkeypatch, tmp_path):
    """On an accelerator the parts' tables are built on a thread while the kernel runs; on a CPU in
    the sweep's loop. Both give the same tables, in memory and on disk, in float64 too."""
    from gdlab.runner import execute
    config = {"problems": ["himmelblau", "rastrigin"], "method": ["gd", "adam"], "alpha": [0.01],
              "starts": {"kind": "uniform", "n": 300, "seed": 1}, "criterion": ["df", "grad"], "epsilon": [1e-6],
              "max_iter": 200, "dtype": "float64", "traces": 2, "part_size": 128}
    got = {}
    for threaded in (False, True):
        monkeypatch.setattr(execute, "_tables_thread", lambda threaded=threaded: threaded)
        res = gdlab.sweep(config)
        folder = execute.run_to_folder(validate({**config, "out_dir": str(tmp_path / str(threaded))}),
                                       log=lambda m: None, show_progress=False)
        got[threaded] = (res, gdlab.load(folder))
    for table in ("runs", "stops", "curves", "traces"):
        for k in (0, 1):
            pd.testing.assert_frame_equal(getattr(got[True][k], table), getattr(got[False][k], table))
    assert len(got[True][1].runs) == 1200


def test_parts_are_written_in_the_background_the_first_alone_then_two_at_a_time_and_a_failed_write_is_raised():
    import threading

    from gdlab.runner.execute import PartWriter as _PartWriter
    parts = (0, 1, 2, 3, 4, 10, "full disk")
    written, started = [], {p: threading.Event() for p in parts}
    release = {p: threading.Event() for p in parts}

    def write(part, tables, facts):
        started[part].set()
        assert release[part].wait(30)
        if part == "full disk":
            raise OSError(28, "No space left on device")
        written.append(part)

    def submitting(w, part):
        """w.submit(part) in a thread of its own: a thread still alive has not returned."""
        t = threading.Thread(target=w.submit, args=(part, {}, {}))
        t.start()
        return t

    w = _PartWriter(write)
    w.submit(0, {}, {})
    assert started[0].wait(10) and written == []    # submit returns while the part is being written
    t = submitting(w, 1)
    t.join(0.5)
    assert t.is_alive() and not started[1].is_set()   # the first part is written alone: the next waits
    release[0].set()
    t.join(10)
    assert not t.is_alive() and written == [0]
    w.submit(2, {}, {})
    assert started[1].wait(10) and started[2].wait(10)    # then two parts are written at once
    t = submitting(w, 3)
    t.join(0.5)
    assert t.is_alive() and not started[3].is_set()   # ... and a third waits for the first of them
    release[1].set()
    t.join(10)
    assert not t.is_alive() and 1 in written
    release[2].set()
    release[3].set()
    w.finish()
    assert sorted(written) == [0, 1, 2, 3]
    w = _PartWriter(write)
    release[10].set()
    w.submit(10, {}, {})
    w.submit("full disk", {}, {})           # waits for part 10, written alone
    w.submit(4, {}, {})
    release["full disk"].set()
    with pytest.raises(OSError, match="No space"):
        w.submit(5, {}, {})                 # the next part hears of it, and is not written
    release[4].set()
    w.finish()                              # the write under way is finished all the same
    assert sorted(written) == [0, 1, 2, 3, 4, 10]
    w = _PartWriter(write)
    release["full disk"].clear()
    w.submit("full disk", {}, {})
    release["full disk"].set()
    with pytest.raises(OSError, match="No space"):
        w.finish()                          # or the end of the sweep does
    w = _PartWriter(write)
    w.submit("full disk", {}, {})
    w.finish(raising=False)                 # a sweep stopped by an interrupt: the interrupt is what is raised


def test_a_part_handed_to_the_writer_is_written_when_an_interrupt_stops_the_wait():
    """Ctrl-C (SIGINT, SIGTERM: the command's handlers raise KeyboardInterrupt) while the sweep waits for a
    write: the part it was handing over is computed, and is written all the same; finish waits for it."""
    import os
    import signal
    import threading

    from gdlab.runner.execute import PartWriter as _PartWriter
    written, release = [], threading.Event()

    def write(part, tables, facts):
        assert release.wait(30)
        written.append(part)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGUSR1, interrupt)
    try:
        w = _PartWriter(write)
        w.submit(0, {}, {})
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            w.submit(1, {}, {})             # waits for part 0, written alone: the interrupt comes then
        release.set()
        w.finish(raising=False)
    finally:
        timer.join()
        signal.signal(signal.SIGUSR1, before)
    assert sorted(written) == [0, 1]


def test_progress_lines_say_nothing_in_the_quiet_seconds_then_every_five(monkeypatch):
    """The report's progress: quiet for its first 5 s (a small sweep's report says nothing more),
    then a line every 5 s and one at the end; the sweep's (quiet 0) starts at once. A line's rate is
    that since the line before, or since the first update (before it: start-up, a compilation); the
    last line has the whole time."""
    import gdlab.runner.progress as S
    now = [100.0]
    monkeypatch.setattr(S.time, "perf_counter", lambda: now[0])
    lines = []
    p = S.Progress(10, True, lines.append, quiet=5.0, what="runs read")
    p.update(3)
    now[0] += 4
    p.update(3)
    assert lines == []
    now[0] += 2
    p.update(2)
    now[0] += 1
    p.update(1)                 # within 5 s of the last line: nothing
    now[0] += 1
    p.update(1)                 # the last
    # 8 runs read after 6 s, 5 of them in the 6 s since the first update: 0.83 a second, 2 left
    assert lines == ["8/10 runs read, 0.833 runs/s, 2 s left", "10/10 runs read in 8.0 s, 1.25 runs/s"]
    lines.clear()
    now[0] = 200.0
    q = S.Progress(4000, True, lines.append)
    now[0] += 12                # the first runs after 12 s of compilation
    q.update(1000)
    now[0] += 6
    q.update(1000)              # 1,000 runs in the 6 s since: 2,000 left take 12 s (not 24, counting the start-up)
    now[0] += 6
    q.update(1500)              # 1,500 in the 6 s since the line before: 250 a second, 500 left take 2 s
    now[0] += 2
    q.update(500)
    assert lines == ["1,000/4,000 runs, the first after 12.0 s of start-up", "2,000/4,000 runs, 167 runs/s, 12 s left",
                     "3,500/4,000 runs, 250 runs/s, 2 s left", "4,000/4,000 runs in 26.0 s, 154 runs/s"]
    S.Progress(4, False, lines.append).update(4)
    assert len(lines) == 4                              # disabled: no line


def test_the_sweep_says_its_shape_and_what_it_will_take_on_disk(tmp_path, monkeypatch):
    """A grid's n is per axis: the opening line says what it came to. The first part written tells
    what the rest will take, and warns when that is more than the disk has free."""
    import gdlab.runner.execute as S
    from gdlab.runner.plan import run_blocks
    sw = validate({**DEFAULTS, "problems": ["himmelblau"], "method": ["gd"], "alpha": [0.01, 0.02],
                   "starts": {"kind": "grid", "n": 2000}})
    assert S.sweep_shape(sw, run_blocks(sw)) == "2 settings × 4,000,000 starts, a grid of 2,000 per axis"
    mixed = validate({**DEFAULTS, "problems": ["x2_sin", "himmelblau"], "method": ["gd"], "alpha": [0.01],
                      "starts": {"kind": "uniform", "n": 500, "seed": 0}})
    assert S.sweep_shape(mixed, run_blocks(mixed)) == "2 settings × 500 starts"
    one = validate({**DEFAULTS, "problems": ["x2_sin", "himmelblau"], "method": ["gd"], "alpha": [0.01],
                    "starts": {"kind": "grid", "n": 30}})
    assert S.sweep_shape(one, run_blocks(one)) == "2 settings × 30–900 starts, a grid of 30 per axis"

    # a part of 1,000 runs in two files of 3 MB and 1 MB
    for name, size in (("a.parquet", 3_000_000), ("b.parquet", 1_000_000)):
        (tmp_path / name).write_bytes(b"\0" * size)
    record = {"files": {"runs": {"file": "a.parquet", "rows": 1000}, "curves": {"file": "b.parquet", "rows": 9}}}
    free = [10 ** 12]
    monkeypatch.setattr(S.shutil, "disk_usage", lambda path: type("U", (), {"free": free[0]})())
    assert S.disk_projection(tmp_path, record, 100_000) == []            # 400 MB: nothing to say
    [line] = S.disk_projection(tmp_path, record, 1_000_000)
    assert line == ("sweep: its first part took 4.0 MB for 1,000 runs, so 1,000,000 runs will take about "
                    "4.0 GB on disk (1000.0 GB free)")
    free[0] = 2 * 10 ** 9
    line, warning = S.disk_projection(tmp_path, record, 1_000_000)
    assert warning.startswith(f"warning: the sweep needs about 4.0 GB more on disk than the 2.0 GB free under {tmp_path}")
    free[0] = 10 ** 8
    [warning] = S.disk_projection(tmp_path, record, 100_000)               # 396 MB more against 100 MB
    assert "396.0 MB more on disk than the 100.0 MB free" in warning


def test_a_python_config_naming_an_experiment_runs_it_with_its_other_keys_over_it():
    r = gdlab.sweep({"experiment": "x2_sin"})
    assert r.runs["alpha"].tolist() == [0.005, 0.0001] and r.config["dtype"] == "float64"
    one = gdlab.sweep({"experiment": "x2_sin", "alpha": [0.005], "min_steps": [0]})
    assert len(one.runs) == 1 and one.stops["step"].tolist() == [73]
    own = gdlab.sweep({"experiment": "mine", "starts": {"kind": "uniform", "n": 3}, "max_iter": 50})
    assert own.config["experiment"] == "mine" and len(own.runs) == 3


def test_the_blocks_within_a_range_of_run_ids_are_those_a_scan_finds():
    """_overlaps (by bisection) against a scan of every block, over blocks of random sizes, some empty,
    and every range of run ids within and around them."""
    from gdlab.runner.plan import Block, _overlaps
    rng = np.random.default_rng(3)
    for _ in range(20):
        sizes = rng.choice([0, 1, 2, 5], rng.integers(1, 12))
        firsts = np.r_[0, np.cumsum(sizes)[:-1]]
        blocks = [Block("p", 2, "gd", (), int(n), int(f), "constant") for n, f in zip(sizes, firsts)]
        total = int(sizes.sum())
        for start in range(total + 2):
            for stop in range(start, total + 3):
                want = [(b, max(start, b.first) - b.first, min(stop, b.first + b.n) - b.first) for b in blocks
                        if max(start, b.first) < min(stop, b.first + b.n)]
                assert list(_overlaps(blocks, start, stop)) == want


def test_curve_rows_written_into_given_columns_are_the_table_built_alone():
    """``curves_table(..., out=)`` writes its rows into the columns it is given (slices of a whole
    sweep's) and its table is a view of them, equal to the table built in its own arrays."""
    from gdlab.core.criteria import checkpoints
    from gdlab.tables.build import CURVE_COLUMNS, curve_rows_bound, curves_table
    rng = np.random.default_rng(3)
    n, max_iter = 500, 300
    C = len(checkpoints(max_iter))
    rec = {"k": rng.integers(0, max_iter + 1, n).astype(np.int32), "curve_f": rng.normal(size=(n, C)),
           "curve_g": rng.random((n, C)), "f": rng.normal(size=n), "g": rng.normal(size=(n, 2)),
           "x": rng.normal(size=(n, 2))}
    rec["k"][:3] = [0, 1, max_iter]                  # no step, a checkpoint's step, the last allowed
    ids = np.arange(10, 10 + n) * 3
    alone = curves_table(ids, rec, max_iter)
    whole = {k: np.full(n * curve_rows_bound(max_iter) + 7, -1, t) for k, t in CURVE_COLUMNS.items()}
    given = curves_table(ids, rec, max_iter, out=lambda m: {k: c[7:7 + m] for k, c in whole.items()})
    pd.testing.assert_frame_equal(given, alone)
    for k, c in whole.items():
        np.testing.assert_array_equal(c[7:7 + len(alone)], alone[k])
        assert np.shares_memory(given[k].to_numpy(), c)
    assert (whole["run_id"][:7] == -1).all() and (whole["run_id"][7 + len(alone):] == -1).all()


@pytest.mark.parametrize("config", [
    {"method": ["gd", "adam"], "alpha": [0.01, 0.003]},
    # schedules vary fastest: the kernels' parts interleave (constant, decay, constant, …), one kernel runs first
    {"method": ["gd"], "alpha": [0.01, 0.003], "schedule": ["constant", "exponential_decay"]},
    # fewer lanes than a part holds: a later part can finish first
    {"method": ["gd"], "alpha": [0.03, 0.001], "engine": {"lanes": 16}},
])
def test_an_in_memory_sweep_writes_its_curves_in_place_whatever_order_its_parts_are_built_in(
        config, monkeypatch, tmp_path):
    """Every part's curve rows end in the sweep's one curves table in part order, with no join of the
    parts' tables, whether the parts are built in part order or not; the table is the one the
    sweep's folder holds. Where the columns cannot be reserved, the parts' tables are joined."""
    from gdlab.runner import execute
    config = {"problems": ["himmelblau", "rastrigin"], "starts": {"kind": "uniform", "n": 150, "seed": 2},
              "criterion": ["df", "grad"], "epsilon": [1e-6], "max_iter": 400, "dtype": "float64", "traces": 1,
              "part_size": 64, **config}
    joined, built = [], []
    concat, rows = execute._concat, execute._CurveColumns.rows
    monkeypatch.setattr(execute, "_concat", lambda frames, table: joined.append(table) or concat(frames, table))
    monkeypatch.setattr(execute._CurveColumns, "rows", lambda self, part, n: built.append(part) or rows(self, part, n))
    res = gdlab.sweep(config)
    assert "curves" not in joined and len(joined) == 3 and sorted(built) == list(range(len(built)))
    disk = gdlab.load(execute.run_to_folder(validate({**config, "out_dir": str(tmp_path)}), log=lambda m: None,
                                            show_progress=False))
    pd.testing.assert_frame_equal(res.curves, disk.curves)
    if "schedule" in config or "engine" in config:
        assert built != sorted(built)        # the case it stands for: parts built out of part order
    # columns the machine refuses to reserve (a strict overcommit, a ulimit): the parts' tables are joined
    columns = execute._CurveColumns

    def refused(self, n_rows, order):
        raise MemoryError(f"cannot reserve {n_rows} rows")
    monkeypatch.setattr(columns, "__init__", refused)
    joined.clear()
    again = gdlab.sweep(config)
    assert "curves" in joined
    for table in ("runs", "stops", "curves", "traces"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(res, table))


def test_curve_columns_put_each_part_s_rows_in_part_order_whatever_order_the_parts_write_in():
    from gdlab.runner.execute import _CurveColumns
    cols = _CurveColumns(12, [0, 1, 2, 3, 4])
    cols.rows(0, 3)["run_id"][:] = [0, 0, 1]
    cols.rows(3, 2)["run_id"][:] = [6, 7]           # before its turn: rows of its own
    cols.rows(2, 4)["run_id"][:] = [3, 3, 3, 4]     # before its turn too
    assert cols.table() is None                      # parts 1 and 4 missing
    cols.rows(1, 0)                                  # its turn: 2 and 3 move in after it
    cols.rows(4, 1)["run_id"][:] = [9]
    assert cols.table()["run_id"].tolist() == [0, 0, 1, 3, 3, 3, 4, 6, 7, 9]
    assert not cols.early
    with pytest.raises(RuntimeError, match="reserved"):
        _CurveColumns(2, [0]).rows(0, 3)
