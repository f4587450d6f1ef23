"""A non-editable install: the wheel carries the configs, and its ``gdlab`` composes them in any folder."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_carries_the_configs_and_its_command_runs_a_sweep_in_an_empty_folder(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, capture_output=True, text=True)
    (wheel,) = wheels.glob("gdlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"gdlab/configs/{p.relative_to(ROOT / 'gdlab' / 'configs')}"
               for p in (ROOT / "gdlab" / "configs").rglob("*.yaml")}
    assert "gdlab/configs/config.yaml" in shipped and "gdlab/configs/experiment/default.yaml" in shipped
    assert shipped <= names
    assert not any(n.startswith(("tests/", "configs/")) for n in names)
    # installed apart from the source tree, and run from an empty folder with the source out of reach
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True)
    work = tmp_path / "empty"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "GDLAB_CACHE_DIR": "off"}
    command = [sys.executable, str(target / "bin" / "gdlab")]
    listed = subprocess.run([*command, "list", "experiments"], cwd=work, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "default" in listed.stdout and "lessons" in listed.stdout
    run = subprocess.run([*command, "problems=[paraboloid]", "method=[gd]", "alpha=[0.1]", "starts.n=3",
                          "criterion=[grad]", "epsilon=[1e-3]", "max_iter=200", "traces=1"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    folder = Path(run.stdout.strip().splitlines()[-1].removeprefix("results: "))
    assert (work / folder / "report" / "index.html").exists()
    # the code that ran is the installed copy, not the source tree
    where = subprocess.run([sys.executable, "-c", "import gdlab; print(gdlab.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(target))
