"""The README's Python examples print what the README shows under them."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def examples():
    """(code, printed) of each ```python block followed by a plain ``` block, in order."""
    text = README.read_text()
    return re.findall(r"```python\n(.*?)```\s*\n```\n(.*?)```", text, flags=re.S)


def test_the_readme_has_examples_with_their_output():
    assert len(examples()) >= 2


@pytest.mark.slow
def test_every_readme_example_prints_what_the_readme_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code, printed in examples():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(README), "exec"), namespace)
        got = [line.rstrip() for line in out.getvalue().strip().splitlines()]
        assert got == [line.rstrip() for line in printed.strip().splitlines()]
