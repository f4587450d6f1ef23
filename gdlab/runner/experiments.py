"""The experiments that ship inside the package (``gdlab/configs/experiment/<name>.yaml``), composed by name.

The command line composes them with Hydra's ``@hydra.main``; Python and the
lessons compose them here with Hydra's compose API, from the same files and
with the same override syntax, so both give the same config.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import ConfigError, UnknownNameError
from .configs import CONFIG_DIR, experiment_names
from .schema import DEFAULTS, register_schema

__all__ = ["CONFIG_DIR", "experiment_names", "experiment_doc", "plus_unknown", "experiment_config"]


def experiment_doc(name: str) -> str:
    """The experiment file's first comment line (after ``# @package``): what it shows."""
    for line in (CONFIG_DIR / "experiment" / f"{name}.yaml").read_text().splitlines():
        if line.startswith("#") and "@package" not in line:
            return line.lstrip("# ").strip()
    return ""


def plus_unknown(args: Sequence[str]) -> list[str]:
    """Let an unknown key reach the validator (which names every bad key at once, with the known
    key it is closest to) instead of Hydra's composer (which stops at the first): ``foo=1`` becomes
    ``+foo=1``, and so does an unknown key of a mapping, ``starts.sed=3``."""
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
