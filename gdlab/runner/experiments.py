"""The experiments that ship inside the package (``gdlab/configs/experiment/<name>.yaml``), composed by name.

The command line composes them with Hydra's ``@hydra.main``; Python and the
lessons compose them here with Hydra's compose API, from the same files and
with the same override syntax, so both give the same config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..core.errors import ConfigError, UnknownNameError
from ..core.names import did_you_mean
from .configs import CONFIG_DIR, experiment_doc, experiment_names
from .keys import name_check
from .schema import DEFAULTS, merged, register_schema

__all__ = ["CONFIG_DIR", "experiment_names", "experiment_doc", "plus_unknown", "experiment_config", "own_experiment",
           "with_experiment"]


def own_experiment(args: Sequence[str]) -> tuple[list[str], str | None]:
    """The command line's ``name=<name>``: the sweep is filed under ``out_dir/<name>/`` and its report
    titled so; without an ``experiment=`` it starts from the schema's defaults (the showcase's are
    not inherited). ``experiment=`` must name a shipped experiment: a typo would otherwise run
    something else under the name meant. Returns the overrides for Hydra (``name=`` taken out, and
    ``~experiment`` where no experiment is named) and the name, or None."""
    out, name, named = [], None, False
    known = experiment_names()
    for a in args:
        key, eq, value = a.partition("=")
        value = value.strip().strip("'\"")
        if eq and key == "experiment":
            named = True
            if value not in known:
                shown = value or "nothing"
                raise ConfigError([f"experiment: {shown!r} is no shipped experiment{did_you_mean(value, known)} "
                                   f"(gdlab list experiments: {', '.join(known)}); to file a sweep of your own "
                                   "under a name, give name=<name>"])
        if eq and key == "name":
            problem = name_check(value)
            if problem:
                raise ConfigError([f"name: {problem}"])
            name = value
            continue
        out.append(a)
    if name is not None and not named:
        out.append("~experiment")
    return out, name


def with_experiment(config: Mapping | None):
    """A Python config naming a shipped experiment (``{"experiment": "x2_sin", …}``) is that experiment
    with the mapping's other keys over it, as ``gdlab experiment=x2_sin key=value`` would be. No config
    (None or ``{}``) is the command's default sweep (bare ``gdlab``: experiment ``default``); any other
    config (no experiment, or a name of the user's own) starts from the schema's defaults."""
    if config is None or (isinstance(config, Mapping) and not config):
        config = {"experiment": "default"}     # nothing given: the command's own default sweep, as bare `gdlab`
    if not isinstance(config, Mapping):
        return config                  # validate names what is wrong
    config = dict(config)
    name = config.get("experiment")
    if not isinstance(name, str) or name not in experiment_names():
        return config
    if name == "lessons":
        raise ConfigError(["experiment: 'lessons' runs every scenario into folders: run it from the command "
                           "line (gdlab experiment=lessons) or with gdlab.lessons.run_lessons"])
    return merged({**experiment_config(name), "experiment": name},
                  {k: v for k, v in config.items() if k != "experiment"})


#: the characters of a key Hydra's override grammar reads (its IDs, dotted paths, group/paths, @package)
_KEY = re.compile(r"[A-Za-z0-9_.$/@\-]+")
#: keys written as their letter
_LETTERS = {"α": "alpha", "η": "alpha", "ε": "epsilon", "β": "momentum", "γ": "momentum"}


#: the characters a backslash escapes in an unquoted Hydra value (``\\`` a backslash, ``\ `` a space)
_HYDRA_ESCAPES = frozenset("\\()[]{}:=, \t")


def _bare_non_ascii(value: str) -> bool:
    """Whether ``value`` has a character beyond ASCII outside quotes (Hydra's grammar reads such
    characters only inside quotes: ``out_dir=/tmp/тест`` is its lexer error)."""
    quote, skip = None, False
    for i, c in enumerate(value):
        if skip:
            skip = False
        elif quote:
            skip = c == "\\"              # (an escaped quote inside quotes)
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "\\":
            skip = value[i + 1:i + 2] in _HYDRA_ESCAPES and i + 1 < len(value)
        elif ord(c) > 127:
            return True
    return False


def _as_quoted(value: str) -> str | None:
    """An unquoted value as Hydra reads it (its escapes undone, the whitespace around it dropped),
    written as a quoted string that Hydra reads as the same text; None where the value is not one
    word or path: a list, a mapping, a sweep (a comma), a function call, a quoted text, an interpolation."""
    if "${" in value:
        return None
    chars, i = [], 0          # (character, escaped)
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in _HYDRA_ESCAPES:
            chars.append((value[i + 1], True))
            i += 2
            continue
        if c in "[]{}(),'\"":
            return None
        chars.append((c, False))
        i += 1
    while chars and not chars[0][1] and chars[0][0] in " \t":
        chars.pop(0)
    while chars and not chars[-1][1] and chars[-1][0] in " \t":
        chars.pop()
    text = "".join(c for c, _ in chars)
    return f"'{text}{text[len(text.rstrip(chr(92))):]}'"     # (a backslash before the closing quote doubled)


def plus_unknown(args: Sequence[str]) -> list[str]:
    """Let an unknown key reach the validator (which names every bad key at once, with the known
    key it is closest to) instead of Hydra's composer (which stops at the first): ``foo=1`` becomes
    ``+foo=1``, and so does an unknown key of a mapping, ``starts.sed=3``. A key Hydra's grammar
    cannot read (``α=0.1``: Hydra's lexer error names no key) is a :class:`ConfigError` here. A
    value of one word or path with characters beyond ASCII (``out_dir=/tmp/тест``) is quoted for
    Hydra, whose grammar reads them only inside quotes (:func:`_as_quoted`: read as Hydra reads it
    unquoted); anywhere else (a list, a mapping, a sweep), such characters outside quotes are a
    :class:`ConfigError` that names the key."""
    unreadable, quoted = [], {}
    for a in args:
        key = a.split("=", 1)[0].strip().lstrip("+~")
        value = a.split("=", 1)[1] if "=" in a else ""
        if not a.startswith("-") and _bare_non_ascii(value):
            quoted[a] = _as_quoted(value)
        if "=" in a and not key and not a.startswith("-"):
            unreadable.append(f"{a}: no key before '=' (write key=value, e.g. alpha=0.1)")
        elif key and not a.startswith("-") and not _KEY.fullmatch(key):     # (α, α:0.1 or α=0.1)
            hint = f" (did you mean {_LETTERS[key[:1]]!r}?)" if key[:1] in _LETTERS else did_you_mean(key, DEFAULTS)
            unreadable.append(f"{key}: unknown key{hint}; keys are written in Latin letters, digits, _ and . "
                              f"(known: {', '.join(sorted(DEFAULTS))})")
        elif a in quoted and quoted[a] is None:
            unreadable.append(f"{key}: Hydra reads characters beyond ASCII only inside quotes here: quote the "
                              "text, e.g. problems=[{name: 'чаша', expr: 'x**2 + y**2', domain: [[-2, 2], "
                              "[-2, 2]]}], or out_dir='/tmp/а','/tmp/б' for a sweep")
    if unreadable:
        raise ConfigError(unreadable)
    out = []
    for a in args:
        if a in quoted:         # one word or path: quoted for Hydra
            a = f"{a.split('=', 1)[0]}={quoted[a]}"
        key = a.split("=", 1)[0]
        top, _, rest = key.partition(".")
        inner = DEFAULTS.get(top)
        unknown = top not in DEFAULTS or (rest and isinstance(inner, dict) and rest.split(".")[0] not in inner)
        if "=" in a and not a.startswith(("-", "+", "~", "hydra")) and "/" not in key and unknown:
            a = "+" + a
        out.append(a)
    return out


def experiment_config(name: str, overrides: Sequence[str] = ()) -> dict:
    """The resolved config of the experiment ``name`` with command-line style overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if name not in experiment_names():
        raise UnknownNameError("experiment", name, experiment_names())
    register_schema()
    args = plus_unknown([f"experiment={name}", *overrides])
    try:
        if GlobalHydra.instance().is_initialized():
            cfg = compose(config_name="config", overrides=args)
        else:
            with initialize_config_dir(version_base=None, config_dir=str(CONFIG_DIR)):
                cfg = compose(config_name="config", overrides=args)
    except (HydraException, OmegaConfBaseException) as exc:   # a bad override, said by Hydra
        raise ConfigError(f"experiment {name}: {exc}") from None
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra", None)
    config.pop("lessons", None)
    return config
