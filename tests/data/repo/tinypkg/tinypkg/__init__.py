"""A tiny package for codewm's workspace tests."""

from tinypkg.shapes import area, perimeter
from tinypkg.textutil import slug, words

__all__ = ["area", "perimeter", "slug", "words"]
