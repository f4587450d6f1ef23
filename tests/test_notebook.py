"""docs/lesson-001.ipynb stays true: executed by nbclient, every text output equals the stored one and
the figure cell draws a PNG inline."""

import copy
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "lesson-001.ipynb"


def _texts(cell) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif "text/plain" in o.get("data", {}) and "image/png" not in o["data"]:
            out.append(o["data"]["text/plain"])
    return out


@pytest.mark.slow
def test_the_lesson_notebook_runs_and_gives_its_stored_outputs(tmp_path):
    stored = nbformat.read(NOTEBOOK, as_version=4)
    nb = copy.deepcopy(stored)
    for cell in nb.cells:
        cell.pop("outputs", None) if cell.cell_type != "code" else cell.update(outputs=[], execution_count=None)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [(a, b) for a, b in zip(stored.cells, nb.cells) if a.cell_type == "code"]
    assert len(code) == 5
    for old, new in code:
        assert _texts(new) == _texts(old), old.source
    pictures = [o for _, new in code for o in new.outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 1 and len(pictures[0]["data"]["image/png"]) > 10_000
    html = [o for _, new in code for o in new.outputs if "text/html" in o.get("data", {})]
    assert "gdlab Results" in html[0]["data"]["text/html"]
