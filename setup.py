"""Builds the optional C hook of the tracer (src/codewm/trace/_ctracer.c).

Everything else is declared in pyproject.toml. The extension is optional: where it cannot be
compiled, codewm uses the pure-Python hook, which records identical traces, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("codewm.trace._ctracer", ["src/codewm/trace/_ctracer.c"], optional=True),
    ],
)
