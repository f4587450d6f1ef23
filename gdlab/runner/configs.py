"""Where the shipped configs lie (inside the package, so an installed gdlab finds them) and what they name."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["CONFIG_DIR", "experiment_names", "experiment_doc"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def experiment_names() -> list[str]:
    """The experiments shipped: ``gdlab/configs/experiment/<name>.yaml``."""
    return sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def experiment_doc(name: str) -> str:
    """The first sentence of the experiment file's leading comment (after ``# @package``): what it
    shows, whole (its first line stops mid-sentence)."""
    words = []
    for line in (CONFIG_DIR / "experiment" / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        if "@package" not in line:
            words.append(line.lstrip("# ").strip())
    text = " ".join(w for w in words if w)
    end = re.search(r"[.!?](\s|$)", text)
    return text[:end.start() + 1] if end else text
