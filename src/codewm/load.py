"""Objects named by import strings, the one way codewm turns a name in a config or on the
command line into a class or function:

    load_object("codewm.programs.synthetic.SyntheticSource")   # package.module.attr
    load_object("codewm.programs.synthetic:SyntheticSource")   # package.module:attr

With a colon, what stands before it is the module and what follows is an attribute path in
it (`module:Class.method` works); without one, the module is everything before the last dot.
Program sources in build configs (`codewm.programs.base.make_source`) and world models
(`codewm.predict.registry`) are loaded this way.
"""

from __future__ import annotations

import importlib


class LoadError(ImportError):
    """An import string that does not name an importable object. The message names the
    string; `spec` is the string and `reason` what went wrong, for callers that word their
    own message."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"cannot load {spec!r}: {reason}")
        self.spec = spec
        self.reason = reason


def split_import_string(spec: str) -> tuple[str, str] | None:
    """(module, attribute path) of an import string, or None when `spec` is not shaped like
    one (nothing names a module)."""
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
    else:
        module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        return None
    return module_name, attribute


def is_import_string(spec: str) -> bool:
    """Whether `spec` is shaped like an import string ("package.module.attr" or
    "package.module:attr"); it may still name nothing importable."""
    return split_import_string(spec) is not None


def load_object(spec: str):
    """The object `spec` names: the module imported, then the attribute looked up in it.
    Raises `LoadError` (an ImportError) naming `spec` when it is not an import string, its
    module cannot be imported or the module has no such attribute."""
    parts = split_import_string(spec)
    if parts is None:
        raise LoadError(spec, "not an import string (package.module.attr or package.module:attr)")
    module_name, attribute = parts
    try:
        obj = importlib.import_module(module_name)
        for name in attribute.split("."):
            obj = getattr(obj, name)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:  # ValueError, TypeError: a malformed module name
        raise LoadError(spec, str(exc)) from exc
    return obj
