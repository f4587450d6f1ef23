"""Where the shipped configs lie (inside the package, so an installed gdlab finds them) and what they name."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_DIR", "experiment_names", "experiment_doc"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def experiment_names() -> list[str]:
    """The experiments shipped: ``gdlab/configs/experiment/<name>.yaml``."""
    return sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def experiment_doc(name: str) -> str:
    """The experiment file's first comment line (after ``# @package``): what it shows."""
    for line in (CONFIG_DIR / "experiment" / f"{name}.yaml").read_text().splitlines():
        if line.startswith("#") and "@package" not in line:
            return line.lstrip("# ").strip()
    return ""
