"""The README's and the user pages' examples do what the pages show: each Python block prints what the
plain block under it holds, and each `gdlab` command in a bash block runs (exit 0), except those the
page marks "(minutes)"."""

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, ROOT / "docs" / "teachers.md", ROOT / "docs" / "practitioners.md", ROOT / "docs" / "benchmarkers.md"]


def examples(page: Path = README):
    """(code, printed) of each ```python block followed by a plain ``` block, in order."""
    return re.findall(r"```python\n(.*?)```\s*\n```\n(.*?)```", page.read_text(), flags=re.S)


def commands(page: Path) -> list[str]:
    """The `gdlab` command lines of the page's bash blocks (a trailing \\ joins lines; # starts a comment)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("gdlab ") and "(minutes)" not in line:
                out.append(line.split(" #")[0].strip())
    return out


def test_the_readme_has_examples_with_their_output():
    assert len(examples()) >= 2
    assert all(examples(p) for p in PAGES)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_example_prints_what_the_page_shows(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code, printed in examples(page):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(page), "exec"), namespace)
        got = [line.rstrip() for line in out.getvalue().strip().splitlines()]
        assert got == [line.rstrip() for line in printed.strip().splitlines()], code


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES[1:], ids=lambda p: p.name)
def test_every_command_on_a_user_page_runs(page, tmp_path):
    gdlab = [sys.executable, "-m", "gdlab"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for line in commands(page):
        done = subprocess.run(gdlab + shlex.split(line)[1:], cwd=tmp_path, capture_output=True, text=True,
                              env=env, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
