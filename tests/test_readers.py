"""Every table of a sweep folder is read by the common readers — pandas, pyarrow.dataset, polars and
DuckDB — from the folder, a glob of its parts and one part, with the values gdlab.load gives."""

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

import gdlab
from gdlab.runner.execute import run_to_folder
from gdlab.runner.schema import validate

ORDER = {"runs": ["run_id"], "stops": ["run_id", "rule_id"], "curves": ["run_id", "step"],
         "traces": ["run_id", "step"]}
LISTS = {"runs": ["x0", "x_final"], "traces": ["x"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("readers")
    sw = validate({"problems": ["himmelblau"], "method": ["gd", {"name": "adam", "b1": [0.8, 0.9]}],
                   "starts": {"kind": "uniform", "n": 40}, "max_iter": 200, "traces": 2, "part_size": 50,
                   "out_dir": str(out)})
    return run_to_folder(sw, log=lambda m: None, show_progress=False)


def same(got: pd.DataFrame, table: str, want: pd.DataFrame):
    got = got.sort_values(ORDER[table], kind="stable").reset_index(drop=True)
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for column in want.columns:
        if column in LISTS.get(table, []):
            np.testing.assert_array_equal(np.stack([np.asarray(v, float) for v in got[column]]),
                                          np.stack([np.asarray(v, float) for v in want[column]]))
        else:
            a, b = got[column].to_numpy(), want[column].to_numpy()
            if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
                np.testing.assert_array_equal(a.astype(float), b.astype(float))
            else:
                def text(values):
                    return [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)
                            for v in values]
                assert text(a) == text(b), column


@pytest.mark.parametrize("table", list(ORDER))
def test_pandas_and_pyarrow_read_every_table(folder, table):
    want = getattr(gdlab.load(folder), table)
    same(pd.read_parquet(folder / table), table, want)
    same(ds.dataset(folder / table).to_table().to_pandas(), table, want)
    part = sorted((folder / table).glob("*.parquet"))[0]
    one = pd.read_parquet(part)
    assert len(one) and set(one["run_id"]) <= set(want["run_id"])
    if table in LISTS:
        assert isinstance(one[LISTS[table][0]].iloc[0][0], float)     # a list column's entries are floats


@pytest.mark.parametrize("table", list(ORDER))
def test_polars_and_duckdb_read_every_table(folder, table):
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    want = getattr(gdlab.load(folder), table)
    same(pl.read_parquet(str(folder / table / "*.parquet")).to_pandas(), table, want)
    same(duckdb.sql(f"select * from read_parquet('{folder / table}/*.parquet')").df(), table, want)
    if table == "runs":
        share = duckdb.sql(f"select method, avg(cast(status = 'converged' as integer)) as share from "
                           f"read_parquet('{folder}/runs/*.parquet') group by method order by method").df()
        expected = want.groupby("method")["status"].apply(lambda s: (s == "converged").mean())
        np.testing.assert_allclose(share["share"], expected.sort_index().to_numpy())
