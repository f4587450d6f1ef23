"""Command line: ``gdlab [overrides]`` (Hydra), ``gdlab point|verify|list …``, ``gdlab-report <folder>``.

The Hydra entry point is thin: it turns the composed config into a plain
dict and calls :func:`run`, which tests call directly. gdlab's errors become
exit statuses here, in one place (:func:`_exit_on_error`): bad input 2, a
results folder that cannot be used 1, Ctrl-C 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["main", "run", "report_main", "entry", "report_entry", "EXIT_BAD_CONFIG"]

EXIT_BAD_CONFIG = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141     # 128 + SIGPIPE: what a shell reports of a program whose output's reader left


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(config: dict, overrides: tuple[str, ...] = ()) -> Path:
    """Validate, run into the sweep folder, build the report; return the folder.

    With ``lessons`` set (``experiment=lessons``), run each scenario with the same
    ``overrides`` and build the lessons page instead. Raises ConfigError
    (nothing written) on a bad config.
    """
    from ..core.errors import ConfigError
    from ..report.workers import figure_workers
    from ..runner.execute import check_interrupt, run_to_folder
    from ..runner.schema import validate
    from ..storage.folder import SweepFolder

    sw = validate(config)
    try:
        figure_workers()      # the report reads it: a bad value is said now, before any work
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    if config.get("lessons"):
        from ..lessons import run_lessons, unknown_scenarios
        if unknown_scenarios(config["lessons"]):
            raise ConfigError(unknown_scenarios(config["lessons"]))
        keep = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in ("experiment", "lessons")]
        return run_lessons(config["lessons"], keep, out_dir=sw.out_dir, log=_log)
    folder = run_to_folder(sw, log=_log)
    sweep = SweepFolder(folder)
    status = sweep.manifest().get("status")
    if not sw.report.get("build", True):
        _log(f"report: not built (report.build=false); gdlab report {folder} draws it")
        return folder
    if status != "complete":   # other shards still running: the last one to finish builds it
        _log(f"report: not yet — the sweep is {status}; the last shard builds it "
             f"(or run gdlab-report {folder})")
        return folder
    check_interrupt()
    from ..lessons import report_sections  # (matplotlib and the report's modules: only once they draw)
    from ..report import build
    with sweep.lock("report", log=_log):
        build(folder, log=_log, sections=report_sections(sw.experiment))
    return folder


@contextlib.contextmanager
def _exit_on_error(interrupted: str):
    """gdlab's errors and the system's as exit statuses with a message (never a traceback):
    GdlabError → its exit_code (bad input 2, a folder 1), OSError 1, Ctrl-C 130."""
    from ..core.errors import ConfigError, GdlabError
    try:
        yield
    except ConfigError as exc:
        _log(str(exc))
        sys.exit(exc.exit_code)
    except GdlabError as exc:
        _log(f"error: {exc}")
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # the output's reader left (gdlab list problems | head -1): not the results' fault
        raise
    except OSError as exc:   # a full disk, a folder gone read-only: parts already written stay whole
        _log(f"error: cannot write results: {exc.strerror or exc} ({exc.filename or 'results folder'}). "
             "Finished parts are kept; fix this and run the same command again to resume.")
        sys.exit(1)
    except KeyboardInterrupt:
        terminated = _catch_ctrl_c.received == signal.SIGTERM
        _log(interrupted.replace("interrupted", "terminated", 1) if terminated else interrupted)
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        # A kernel call still running on the devices cannot be cancelled, and Python would wait for
        # its thread at exit (tens of seconds on a long call); finished parts are whole on disk by now
        # (the sweep waits for the part being written before it lets the interrupt through)
        if any(t.name.startswith("gdlab-launch") and t.is_alive() for t in threading.enumerate()):
            _exit_now(code)
        sys.exit(code)


def _task(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    _task.started = True

    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra", None)
    if _task.own_name:             # name=<a name of the user's own>: the sweep is filed under it
        config["experiment"] = _task.own_name
    overrides = tuple(HydraConfig.get().overrides.task) if HydraConfig.initialized() else ()
    _catch_ctrl_c()
    with _exit_on_error("interrupted: finished parts are saved; run the same command again to resume"):
        folder = run(config, overrides)
    print(f"results: {folder}", flush=True)


_task.started = False
_task.own_name = None


def _catch_ctrl_c() -> None:
    """Ctrl-C (and SIGTERM, a cluster's stop) raise KeyboardInterrupt and also set a flag the sweep
    checks between kernel calls; :func:`_exit_on_error` says which it was."""
    from ..runner.execute import INTERRUPTED

    if threading.current_thread() is not threading.main_thread():
        return

    def on_signal(signum, frame):
        INTERRUPTED.set()
        _catch_ctrl_c.received = signum
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


_catch_ctrl_c.received = None


def main(argv: list[str] | None = None) -> None:
    """``gdlab``: run a sweep (Hydra overrides), or one of the commands (``gdlab --help`` lists them)."""
    from .commands import USAGE, export_main, help_text, list_main, point_main, verify_main, version_text
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help", "help"):
        print(help_text())
        sys.exit(0)
    if argv and argv[0] in ("-V", "--version"):
        print(version_text())
        sys.exit(0)
    commands = {"verify": verify_main, "point": point_main, "list": list_main, "export": export_main,
                "report": lambda rest: report_main(rest) or 0}
    if argv and argv[0] in commands:
        if argv[1:] in (["-h"], ["--help"]):
            print(USAGE[argv[0]])
            sys.exit(0)
        with _exit_on_error("interrupted"):
            sys.exit(commands[argv[0]](argv[1:]))
    import hydra

    from ..engine.compile_cache import enable_compile_cache
    from ..runner.experiments import CONFIG_DIR, own_experiment, plus_unknown
    from ..runner.schema import register_schema
    # the command line draws into files (importing gdlab leaves the backend alone); matplotlib itself
    # is imported once a report is drawn, not for a sweep that draws none
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"
    register_schema()
    enable_compile_cache()
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    with _exit_on_error("interrupted"):
        argv, _task.own_name = own_experiment(argv)
        sys.argv = [sys.argv[0]] + plus_unknown(argv)
    entry = hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")(_task)
    try:
        entry()
    except SystemExit as exc:
        # Hydra exits 1 on an override or composition error, before our task ever ran: a bad config.
        if exc.code == 1 and not _task.started:
            sys.exit(EXIT_BAD_CONFIG)
        raise


def _ended(command: Callable[[], object]) -> None:
    """Run a command and end the process with its exit status at once: its files are written and
    closed, its output flushed, and its figure workers end as their pipe closes. Python's own
    shutdown (tearing down some 1,500 modules, JAX's runtime among them) took 0.3–0.7 s after a
    command's last line. An error that is not a command's own (a traceback) ends the usual way."""
    try:
        command()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except BrokenPipeError:      # the output's reader left (gdlab --help | head -1): ended as SIGPIPE ends a program
        code = EXIT_BROKEN_PIPE
    if code is not None and not isinstance(code, int):    # sys.exit("text"): said, and status 1
        print(code, file=sys.stderr)
        code = 1
    _exit_now(code or 0)


def _exit_now(code: int) -> None:
    """End the process with ``code`` at once, its output flushed (no Python shutdown)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):     # no reader left, or a stream already closed: nothing to say
            pass
    os._exit(code)


def entry() -> None:
    """The ``gdlab`` command (and ``python -m gdlab``): :func:`main`, the process ended as it returns."""
    _ended(main)


def report_entry() -> None:
    """The ``gdlab-report`` command: :func:`report_main`, the process ended as it returns."""
    _ended(report_main)


def report_main(argv: list[str] | None = None) -> None:
    """``gdlab-report <sweep folder>``: rebuild the report from stored results."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: gdlab report <sweep folder>   (or gdlab-report <sweep folder>)", file=sys.stderr)
        sys.exit(2)
    from ..report.workers import figure_workers, start_workers
    try:
        workers = figure_workers()
    except ValueError as exc:
        _log(f"error: {exc}")
        sys.exit(EXIT_BAD_CONFIG)
    if any((Path(argv[0]) / name).is_file() for name in ("manifest.json", "lessons.json")):
        start_workers(workers)      # their start-up (matplotlib's import) overlaps the imports below
    import matplotlib
    import yaml

    from ..engine.compile_cache import enable_compile_cache
    from ..lessons import build_lessons, report_sections
    matplotlib.use("Agg")
    from ..report import build
    enable_compile_cache()
    with _exit_on_error(f"interrupted: the report is not finished; run gdlab-report {argv[0]} again "
                        "(the sweep is untouched)"):
        folder = Path(argv[0])
        if (folder / "lessons.json").exists():
            out = build_lessons(folder, log=_log)
        else:
            stored = folder / "config.yaml"
            experiment = (yaml.safe_load(stored.read_text()) or {}).get("experiment") if stored.exists() else None
            out = build(folder, log=_log, sections=report_sections(experiment))
    print(f"report: {out}", flush=True)
