# STAND-IN: a plain stand-in for the "console" helper's module (dropped at merge).
"""Plots (stand-in): a 1×1 PNG."""

from __future__ import annotations

import base64

_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def frontier_png(frontier, *, chosen=None, title="", lang="zh_CN") -> bytes:
    return _PNG


def region_fill_png(names, before, after, *, title="", lang="zh_CN") -> bytes:
    return _PNG
