"""``gdlab experiment=lessons``: every scenario's sweep with its report, then one page for the class."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.errors import ConfigError
from ..report.page import build
from ..runner.execute import check_interrupt, run_to_folder
from ..runner.experiments import experiment_config
from ..runner.schema import validate
from ..storage.folder import SweepFolder
from .page import build_lessons_page, read_listing, report_sections
from .scenarios import LESSONS, SCENARIOS, unknown_scenarios

__all__ = ["run_lessons", "build_lessons"]


def run_lessons(names: Sequence[str] | None = None, overrides: Sequence[str] = (), out_dir: str | None = None,
                log: Callable[[str], None] = print) -> Path:
    """Run each scenario's sweep (resuming any already done) with its report, then the lessons page
    (with ``report.build=false`` in ``overrides``, neither: ``gdlab report`` of the lessons folder
    draws them, :func:`build_lessons`).

    Returns ``<out_dir>/lessons/<id>``, where id hashes the scenarios' sweep ids.
    """
    names = list(names or LESSONS)
    if unknown_scenarios(names):
        raise ConfigError(unknown_scenarios(names))
    sweeps, problems = {}, []
    for name in names:
        try:
            sweeps[name] = validate(experiment_config(name, overrides))
        except ConfigError as exc:
            problems += [f"{name}: {p}" for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    root = Path(out_dir or next(iter(sweeps.values())).out_dir)
    drawn = all(sw.report.get("build", True) for sw in sweeps.values())
    folders = {}
    for i, (name, sw) in enumerate(sweeps.items()):
        check_interrupt()
        log(f"lesson {i + 1}/{len(sweeps)}: {name} — {SCENARIOS[name].title}")
        folder = run_to_folder(sw, root, log=log, show_progress=False)
        if drawn:
            with SweepFolder(folder).lock("report", log=log):
                build(folder, log=log, sections=report_sections(name))
        folders[name] = folder
    ident = hashlib.sha256(json.dumps({n: f.name for n, f in folders.items()}).encode()).hexdigest()[:12]
    page_dir = root / "lessons" / ident
    page_dir.mkdir(parents=True, exist_ok=True)
    (page_dir / "lessons.json").write_text(json.dumps(
        {"scenarios": [{"name": n, "folder": str(Path("..") / ".." / n / f.name)} for n, f in folders.items()]},
        indent=1))
    if drawn:
        build_lessons_page(page_dir, log=log)
    else:
        log(f"report: not built (report.build=false); gdlab report {page_dir} draws the scenarios' reports "
            "and the lessons page")
    return page_dir


def build_lessons(page_dir: Path | str, log: Callable[[str], None] = print) -> Path:
    """The lessons page of a lessons folder, each scenario's report drawn first where it has none (a
    run with ``report.build=false``); returns the page's index.html."""
    page_dir = Path(page_dir)
    for entry in read_listing(page_dir)["scenarios"]:
        folder = (page_dir / entry["folder"]).resolve()
        if not (folder / "report" / "tables" / "lesson.csv").exists():
            check_interrupt()
            with SweepFolder(folder).lock("report", log=log):
                build(folder, log=log, sections=report_sections(entry["name"]))
    return build_lessons_page(page_dir, log=log)
