"""The lessons' pages: a scenario's section in its sweep's report, and one page for the class."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..core.errors import FolderError
from ..report.page import PAGE_CSS
from ..report.render import FigureWriter
from ..storage.load import load
from ..tables.results import Results
from .scenarios import NUMBER_COLUMNS, SCENARIOS, NotTheLessonsSweep, Scenario, lesson_figure, lesson_numbers

__all__ = ["build_lessons_page", "lesson_section", "report_sections", "section_md", "read_listing"]


def read_listing(page_dir: Path | str) -> dict:
    """A lessons folder's ``lessons.json`` ({scenarios: [{name, folder}, …]}), or FolderError saying
    what is wrong with it."""
    path = Path(page_dir) / "lessons.json"
    try:
        listing = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FolderError(f"{path} cannot be read ({type(exc).__name__}): run gdlab experiment=lessons again to "
                          "rebuild it") from None
    entries = listing.get("scenarios") if isinstance(listing, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("name") in SCENARIOS
                                                and isinstance(e.get("folder"), str) for e in entries):
        raise FolderError(f"{path} is not a list of lesson scenarios and their folders: run gdlab "
                          "experiment=lessons again to rebuild it")
    return listing


def build_lessons_page(page_dir: Path | str, log: Callable[[str], None] = print) -> Path:
    """``report/index.html`` and ``summary.md`` of a lessons folder, from its scenarios' stored reports."""
    page_dir = Path(page_dir)
    listing = read_listing(page_dir)
    out = page_dir / "report"
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    tables, body, md = [], [], ["# gdlab: the lessons as experiments", ""]
    for entry in listing["scenarios"]:
        name = entry["name"]
        sc = SCENARIOS[name]
        folder = (page_dir / entry["folder"]).resolve()
        numbers = pd.read_csv(folder / "report" / "tables" / "lesson.csv")
        tables.append(numbers.assign(scenario=name))
        png = (folder / "report" / "figures" / "lesson.png").read_bytes()
        (out / "figures" / f"{name}.png").write_bytes(png)
        rel = Path("..") / ".." / ".." / name / folder.name / "report" / "index.html"
        body.append(_section_html(sc, numbers, base64.b64encode(png).decode(), link=str(rel)))
        md += section_md(sc, numbers, f"figures/{name}.png")
    all_numbers = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=NUMBER_COLUMNS)
    all_numbers.to_csv(out / "tables" / "lessons.csv", index=False)
    checked = all_numbers["agrees"].dropna().astype(str).str.lower() == "true"
    head = (f"<h1>gdlab: the lessons as experiments</h1><p>{len(listing['scenarios'])} scenarios from the seed "
            f"lessons; {int(checked.sum())} of {len(checked)} of the lessons' numbers reproduced. Each section "
            "links to its sweep's full report.</p>")
    toc = "<ol>" + "".join(f"<li><a href='#{e['name']}'>{html.escape(SCENARIOS[e['name']].title)}</a></li>"
                           for e in listing["scenarios"]) + "</ol>"
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gdlab: lessons</title>"
            f"<style>{_page_css()}</style></head><body>{head}{toc}{''.join(body)}</body></html>")
    (out / "index.html").write_text(page)
    (out / "summary.md").write_text("\n".join(md) + "\n")
    log(f"lessons page: {out / 'index.html'} ({int(checked.sum())}/{len(checked)} lesson numbers agree)")
    return out / "index.html"


def _page_css() -> str:
    return PAGE_CSS + ".ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600} td{text-align:left}"


def _agree_cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("", "nan", "None"):
        return "–"
    return "<span class='ok'>✓</span>" if str(v).lower() == "true" else "<span class='bad'>✗</span>"


def _section_html(sc: Scenario, numbers: pd.DataFrame, png_b64: str, link: str | None = None) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(r.quantity))}</td><td>{html.escape(str(r.lesson))}</td>"
                   f"<td>{html.escape(str(r.gdlab))}</td><td>{_agree_cell(r.agrees)}</td></tr>"
                   for r in numbers.itertuples())
    more = f" <a href='{html.escape(link)}'>full report</a>" if link else ""
    return (f"<h2 id='{sc.name}'>{html.escape(sc.title)} <small>(lesson {sc.lessons})</small></h2>"
            f"<p><b>Question.</b> {html.escape(sc.question)}</p>"
            f"<p><b>Command.</b> <code>gdlab experiment={sc.name}</code>{more}</p>"
            f"<table><tr><th>quantity</th><th>the lesson</th><th>gdlab</th><th>agrees</th></tr>{rows}</table>"
            f"<figure><img alt='{sc.name}' src='data:image/png;base64,{png_b64}'></figure>"
            f"<p><b>What it shows.</b> {html.escape(sc.shows)}</p>")


def section_md(sc: Scenario, numbers: pd.DataFrame, figure: str) -> list[str]:
    def mark(v):
        s = str(v).lower()
        return "✓" if s == "true" else "✗" if s == "false" else "–"
    def cell(v):
        return str(v).replace("|", "\\|")
    rows = [f"| {cell(r.quantity)} | {cell(r.lesson)} | {cell(r.gdlab)} | {mark(r.agrees)} |"
            for r in numbers.itertuples()]
    return [f"## {sc.title} (lesson {sc.lessons})", "", f"**Question.** {sc.question}", "",
            f"**Command.** `gdlab experiment={sc.name}`", "",
            "| quantity | the lesson | gdlab | agrees |", "|---|---|---|---|", *rows, "",
            f"![{sc.name}]({figure})", "", f"**What it shows.** {sc.shows}", ""]


def lesson_section(name: str, res: Results, figure_dir: Path, table_dir: Path,
                   writer: FigureWriter | None = None) -> tuple[Callable[[], str], list[str]]:
    """The lesson part of a sweep's report: writes ``lesson.csv`` and ``lesson.png``/``.svg``; returns
    (html, md), html a function that waits for the figure (``writer`` saves it meanwhile)."""
    sc = SCENARIOS[name]
    numbers = lesson_numbers(name, res)
    numbers.to_csv(table_dir / "lesson.csv", index=False)
    saving = (writer or FigureWriter(0)).submit(lesson_figure(name, res), figure_dir, "lesson")
    return (lambda: _section_html(sc, numbers, base64.b64encode(saving.result()).decode()),
            section_md(sc, numbers, "figures/lesson.png"))


def report_sections(experiment: str) -> list:
    """The report's extra sections for a sweep of this experiment: the lesson's numbers and picture
    when it is a lesson scenario (:func:`gdlab.report.build`'s ``sections``)."""
    if experiment not in SCENARIOS:
        return []

    def section(folder: Path, out: Path, warnings: list, writer: FigureWriter):
        # whole tables, the curves included: a lesson's sweep is small
        try:
            return lesson_section(experiment, load(folder), out / "figures", out / "tables", writer)
        except NotTheLessonsSweep as exc:
            warnings.append(f"the lesson's numbers need the lesson's own runs ({exc}): gdlab experiment="
                            f"{experiment} with its own starts and settings gives them; this report has every "
                            "table and figure of this sweep")
            return None
    return [section]
