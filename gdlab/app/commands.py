"""The commands beside the sweep: ``gdlab point``, ``gdlab verify``, ``gdlab list``, ``gdlab export``.

Each is a plain function of its arguments that prints and returns an exit
status; :func:`gdlab.app.cli.main` dispatches to them and maps gdlab's errors
to exit statuses in one place.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..core.names import count

__all__ = ["point_main", "verify_main", "list_main", "export_main", "LISTS", "help_text", "version_text",
           "registry_table", "USAGE"]

#: each command's ``--help``
USAGE = {
    "point": "usage: gdlab point <problem name or expression> <x1> [<x2> …]\n"
             "  f, ∇f, the Hessian, its eigenvalues and the point's type at a point\n"
             "  e.g. gdlab point shifted_paraboloid 5 6\n"
             "       gdlab point '3*x1**2 + 2*x1*x2' -20 -20",
    "verify": "usage: gdlab verify <sweep folder>\n  checks every part file against the manifest's rows and sha256 "
              "(a lessons folder: each of its sweeps); exits 1 on any damage",
    "list": "usage: gdlab list problems|methods|schedules|criteria|experiments\n  one line each, from the registries",
    "export": "usage: gdlab export coco <sweep folder> <out folder>\n"
              "  the sweep's bbob runs in COCO's data format, a folder per setting (an algorithm each, for\n"
              "  python -m cocopp <out folder>/<setting> …)",
    "report": "usage: gdlab report <sweep folder>   (the same as gdlab-report)\n"
              "  rebuilds the sweep's report from its stored tables (or the lessons page of results/lessons/<id>)",
}


def version_text() -> str:
    """gdlab's version and JAX's, read from the installed packages (without starting JAX)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"
    return f"gdlab {__version__} (jax {of('jax')}, jaxlib {of('jaxlib')}, optax {of('optax')})"


def help_text() -> str:
    """``gdlab --help``: the commands, every config key with its line, and where to look next."""
    import dataclasses

    from ..runner.keys import NESTED, SweepConfig

    keys = []
    for f in dataclasses.fields(SweepConfig):
        if f.name in NESTED:
            keys += [(f"{f.name}.{g.name}", g.metadata["doc"]) for g in dataclasses.fields(NESTED[f.name])]
        else:
            keys.append((f.name, f.metadata["doc"]))
    width = max(len(k) for k, _ in keys)
    commands = [
        ("gdlab [key=value …]", "run a sweep: the default experiment, with any key overridden"),
        ("gdlab experiment=NAME [key=value …]", "run a shipped experiment (gdlab list experiments)"),
        ("gdlab name=NAME [key=value …]", "a sweep of your own from the schema's defaults, filed under NAME"),
        ("gdlab -m key=a,b …", "one job per value (Hydra's multirun: clusters, shards)"),
        ("gdlab point PROBLEM X1 [X2 …]", "f, ∇f, the Hessian and the point's type (a name or an expression)"),
        ("gdlab verify FOLDER", "check a sweep folder's parts against its manifest"),
        ("gdlab list WHAT", "problems, methods, schedules, criteria or experiments, a line each"),
        ("gdlab report FOLDER", "rebuild a sweep's report (or a lessons page); also gdlab-report FOLDER"),
        ("gdlab export coco FOLDER OUT", "a sweep's bbob runs in COCO's data format (for cocopp)"),
        ("gdlab COMMAND --help", "one command's usage"),
        ("gdlab --version", "gdlab's version and JAX's"),
    ]
    left = max(len(c) for c, _ in commands)
    return "\n".join([
        "gdlab: many gradient descents in one compiled JAX kernel, tidy tables and a report out.",
        "",
        "usage:",
        *(f"  {c:<{left}}  {what}" for c, what in commands),
        "",
        "Every list is a grid axis: gdlab 'alpha=[0.1,0.01]' 'method=[gd,{name: adam, b1: [0.8, 0.9]}]'.",
        "The last line printed is `results: <sweep folder>`; the same command again resumes.",
        "",
        "config keys (docs/config.md has the whole reference):",
        *(f"  {k:<{width}}  {doc}" for k, doc in keys),
        "",
        "Hydra's own help: gdlab --hydra-help.",
    ])



def point_main(argv: list[str]) -> int:
    """``gdlab point <problem or expression> <x1> [x2 …]``."""
    from ..core.errors import GdlabError
    from ..core.points import format_point
    from ..engine.compile_cache import enable_compile_cache
    from ..runner.api import inspect_point

    enable_compile_cache()     # the point's functions compiled once, for every later call
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print("usage: gdlab point <problem name or expression> <x1> [<x2> …]\n"
              "  e.g. gdlab point shifted_paraboloid 5 6\n"
              "       gdlab point '3*x1**2 + 2*x1*x2' -20 -20", file=sys.stderr)
        return 2
    try:
        coords = [float(v) for v in argv[1:]]
    except ValueError:
        print(f"error: the point's coordinates must be numbers, got {argv[1:]}", file=sys.stderr)
        return 2
    if not all(math.isfinite(c) for c in coords):
        print(f"error: the point's coordinates must be finite numbers, got {argv[1:]}", file=sys.stderr)
        return 2
    try:
        info = inspect_point(argv[0], coords)
    except GdlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(format_point(info))
    return 0


def export_main(argv: list[str]) -> int:
    """``gdlab export coco <sweep folder> <out folder>``: the sweep's bbob runs in COCO's data format."""
    if len(argv) != 3 or argv[0] != "coco" or any(a.startswith("-") for a in argv):
        print(USAGE["export"], file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")
    from ..report.coco import export_coco

    folders = export_coco(argv[1], argv[2])
    # cocopp takes a folder argument as one algorithm: several settings are several arguments
    shown = argv[2] if len(folders) == 1 else " ".join(str(f) for f in folders)
    print(f"coco: {count(len(folders), 'setting folder')} in {argv[2]}; compare them with: python -m cocopp {shown}")
    return 0


def verify_main(argv: list[str]) -> int:
    """``gdlab verify <sweep folder>``: every part against the manifest; a lessons folder, each of its sweeps."""
    from ..core.errors import FolderError
    from ..storage.folder import SweepFolder, not_a_folder
    from ..storage.verify import verify

    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: gdlab verify <sweep folder>\n  checks every part file against the manifest's rows and "
              "sha256; exits 1 on any damage", file=sys.stderr)
        return 2
    listing = Path(argv[0]) / "lessons.json"
    if listing.exists():   # a lessons folder: verify each scenario's sweep
        from ..lessons.page import read_listing  # (the lessons import JAX: only for their folder)
        try:
            entries = [e["folder"] for e in read_listing(listing.parent)["scenarios"]]
        except FolderError as exc:
            print(f"damaged: {exc}", file=sys.stderr)
            return 1
        codes = [verify_main([str((Path(argv[0]) / folder).resolve())]) for folder in entries]
        bad = sum(c != 0 for c in codes)
        print(f"{'ok' if not bad else 'damaged'}: {len(entries) - bad} of {len(entries)} lesson sweeps verified")
        return 1 if bad else 0
    if not_a_folder(argv[0]):
        print(f"error: {not_a_folder(argv[0])}", file=sys.stderr)
        return 1
    try:
        damage = verify(argv[0])
    except FolderError as exc:      # no readable manifest: the damage is the folder's
        print(f"damaged: {exc}", file=sys.stderr)
        return 1
    if damage:
        for line in damage:
            print(f"damaged: {line}")
        print(f"{count(len(damage), 'problem')} in {argv[0]}")
        return 1
    n = sum(len(v) for v in SweepFolder(argv[0]).manifest()["parts"].values())
    print(f"ok: {n} part files match the manifest (rows and sha256)")
    return 0


def _registry(which: str):
    if which == "problems":
        from ..core.problems import PROBLEMS
        return PROBLEMS
    if which == "methods":
        from ..core.methods import METHODS
        return METHODS
    if which == "schedules":
        from ..core.schedules import SCHEDULES
        return SCHEDULES
    from ..core.criteria import CRITERIA
    return CRITERIA


LISTS = ("problems", "methods", "schedules", "criteria", "experiments")


def _hyper_text(h, markdown: bool = False) -> str:
    default = "the problem's f*" if h.from_problem else f"{h.default:g}"
    return f"`{h.name}` = {default}, {h.range}" if markdown else f"{h.name}={default} in {h.range}"


def registry_table(which: str) -> str:
    """The docs' table of every method or schedule: name, parameters (default, range), what it is and
    where it comes from (docs/config.md; ``gdlab list`` prints the same)."""
    registry = _registry(which)
    head = {"methods": "| method | hyperparameters beside alpha: default, range | what it is, and its source |",
            "schedules": "| schedule | parameters: default, range | the factor of alpha at step k |"}[which]
    rows = [head, "|---|---|---|"]
    for name in registry.names():
        entry = registry[name]
        params = ", ".join(_hyper_text(h, True) for h in entry.hyper) or "—"
        doc = " ".join(entry.doc.split()).replace("|", "/")
        rows.append(f"| `{name}` | {params} | {doc} |")
    return "\n".join(rows)


def list_main(argv: list[str]) -> int:
    """``gdlab list problems|methods|schedules|criteria|experiments``: one line each, from the registries."""
    if len(argv) != 1 or argv[0] not in LISTS:
        what = f"there is no list {argv[0]!r}; " if len(argv) == 1 and not argv[0].startswith("-") else ""
        print(f"{what}usage: gdlab list {'|'.join(LISTS)}", file=sys.stderr)
        return 2
    if argv[0] == "experiments":
        from ..runner.configs import experiment_doc, experiment_names
        rows = [(name, experiment_doc(name)) for name in experiment_names()]
    else:
        registry = _registry(argv[0])
        rows = []
        for name, doc in registry.docs():
            entry = registry[name]
            if argv[0] in ("methods", "schedules"):      # the whole doc (the first line stops mid-sentence)
                doc = " ".join(entry.doc.split())
                doc += "; " + ", ".join(_hyper_text(h) for h in (entry.hyper or ()))
                doc = doc.rstrip("; ")
            elif argv[0] == "problems":
                doc = f"{'n-d' if entry.dim is None else f'{entry.dim}-d'}: {doc}"
            rows.append((name, doc))
    width = max(len(name) for name, _ in rows)
    for name, doc in rows:
        print(f"{name:<{width}}  {doc}")
    return 0
