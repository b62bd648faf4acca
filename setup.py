"""Builds codewm's optional C extensions:

- `codewm.trace._ctracer` (src/codewm/trace/_ctracer.c): the tracer's hook;
- `codewm.trace._csealed` (src/codewm/trace/_csealed.c): sealed untraced runs (benchmark
  checks, the re-runs that confirm a trace; docs/tracer.md, "Trust boundary");
- `codewm.format._cformat` (src/codewm/format/_cformat.c): the CWM formatter's hot paths
  (raw steps to text, the longest value, the dataset's pre-token count).

Everything else is declared in pyproject.toml. Both are optional: where they cannot be
compiled, codewm uses its pure-Python twins, which give identical results, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("codewm.trace._ctracer", ["src/codewm/trace/_ctracer.c"], depends=["src/codewm/trace/_ctracer_mac.h"], optional=True),
        Extension("codewm.trace._csealed", ["src/codewm/trace/_csealed.c"], optional=True),
        Extension("codewm.format._cformat", ["src/codewm/format/_cformat.c"], optional=True),
    ],
)
