"""The report of a sweep folder: statistics' tables, figures (PNG + SVG) and one HTML page."""

from .page import build

__all__ = ["build"]
