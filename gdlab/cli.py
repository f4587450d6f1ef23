"""Command line: ``gdlab [overrides]`` (Hydra), ``gdlab verify <folder>``, ``gdlab-report <folder>``.

The Hydra entry point is thin: it turns the composed config into a plain
dict and calls :func:`run`, which tests call directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["main", "run", "report_main", "EXIT_BAD_CONFIG"]

EXIT_BAD_CONFIG = 2
EXIT_INTERRUPTED = 130
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(config: dict, overrides: tuple[str, ...] = ()) -> Path:
    """Validate, run into the sweep folder, build the report; return the folder.

    With ``lessons`` set (``experiment=lessons``), run each scenario with the same
    ``overrides`` and build the lessons page instead. Raises ConfigError
    (nothing written) on a bad config.
    """
    from .config import ConfigError, validate
    from .render import figure_workers
    from .sweep import run_to_folder

    from . import report
    from .storage import SweepFolder

    from .sweep import check_interrupt

    sw = validate(config)
    try:
        figure_workers()      # the report reads it: a bad value is said now, before any work
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    if config.get("lessons"):
        from .lessons import run_lessons
        keep = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in ("experiment", "lessons")]
        return run_lessons(config["lessons"], keep, out_dir=sw.out_dir, log=_log)
    folder = run_to_folder(sw, log=_log)
    sweep = SweepFolder(folder)
    status = sweep.manifest().get("status")
    if status != "complete":   # other shards still running: the last one to finish builds it
        _log(f"report: not yet — the sweep is {status}; the last shard builds it "
             f"(or run gdlab-report {folder})")
        return folder
    check_interrupt()
    with sweep.lock("report", log=_log):
        report.build(folder, log=_log)
    return folder


def _task(cfg) -> None:
    from omegaconf import OmegaConf

    from .config import ConfigError
    from .storage import FolderError

    _task.started = True
    from hydra.core.hydra_config import HydraConfig

    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra", None)
    overrides = tuple(HydraConfig.get().overrides.task) if HydraConfig.initialized() else ()
    _catch_ctrl_c()
    try:
        folder = run(config, overrides)
    except ConfigError as exc:
        _log(str(exc))
        sys.exit(EXIT_BAD_CONFIG)
    except FolderError as exc:
        _log(f"error: {exc}")
        sys.exit(1)
    except OSError as exc:   # a full disk, a folder gone read-only: parts already written stay whole
        _log(f"error: cannot write results: {exc.strerror or exc} ({exc.filename or 'results folder'}). "
             "Finished parts are kept; fix this and run the same command again to resume.")
        sys.exit(1)
    except KeyboardInterrupt:
        _log("interrupted: finished parts are saved; run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    print(f"results: {folder}", flush=True)


_task.started = False


def _catch_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt as usual and also sets a flag the sweep checks between kernel calls."""
    import signal
    import threading

    from .sweep import INTERRUPTED

    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigint(signum, frame):
        INTERRUPTED.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def _plus_unknown(args: list[str]) -> list[str]:
    """Let an unknown key reach the validator (which names every bad key at once, with the known
    key it is closest to) instead of Hydra's composer (which stops at the first): ``foo=1`` becomes
    ``+foo=1``, and so does an unknown key of a mapping, ``starts.sed=3``."""
    from .config import DEFAULTS
    out = []
    for a in args:
        key = a.split("=", 1)[0]
        top, _, rest = key.partition(".")
        inner = DEFAULTS.get(top)
        unknown = top not in DEFAULTS or (rest and isinstance(inner, dict) and rest.split(".")[0] not in inner)
        if "=" in a and not a.startswith(("-", "+", "~", "hydra")) and "/" not in key and unknown:
            a = "+" + a
        out.append(a)
    return out


def main(argv: list[str] | None = None) -> None:
    """``gdlab``: run a sweep (Hydra overrides), ``gdlab verify <folder>``, or ``gdlab point <problem> <x…>``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "verify":
        from .verify import verify_main
        sys.exit(verify_main(argv[1:]))
    if argv and argv[0] == "point":
        from .point import point_main
        sys.exit(point_main(argv[1:]))
    import hydra

    from .cache import enable_compile_cache
    from .config import register_schema
    register_schema()
    enable_compile_cache()
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    sys.argv = [sys.argv[0]] + _plus_unknown(argv)
    entry = hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")(_task)
    try:
        entry()
    except SystemExit as exc:
        # Hydra exits 1 on an override or composition error, before our task ever ran: a bad config.
        if exc.code == 1 and not _task.started:
            sys.exit(EXIT_BAD_CONFIG)
        raise


def report_main(argv: list[str] | None = None) -> None:
    """``gdlab-report <sweep folder>``: rebuild the report from stored results."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: gdlab-report <sweep folder>", file=sys.stderr)
        sys.exit(2)
    from . import report
    from .cache import enable_compile_cache
    from .render import figure_workers
    from .storage import FolderError
    try:
        figure_workers()
    except ValueError as exc:
        _log(f"error: {exc}")
        sys.exit(EXIT_BAD_CONFIG)
    enable_compile_cache()
    try:
        folder = Path(argv[0])
        if (folder / "lessons.json").exists():
            from .lessons import build_lessons_page
            out = build_lessons_page(folder, log=_log)
        else:
            out = report.build(folder, log=_log)
    except FolderError as exc:
        _log(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        _log(f"interrupted: the report is not finished; run gdlab-report {argv[0]} again (the sweep is untouched)")
        sys.exit(EXIT_INTERRUPTED)
    print(f"report: {out}", flush=True)
