"""The report of a sweep folder: statistics' tables, figures (PNG + SVG) and one HTML page."""

from .._lazy import exports

_NAMES = {
    "build": ".page",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = list(_NAMES)
