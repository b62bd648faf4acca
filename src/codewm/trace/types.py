"""The old path of codewm's shared value types, kept so that existing imports still work.

`Trace`, `Frame`, `RunResult` and the context helpers now live in `codewm.types` at the
package root (below every stage, since every stage uses them); import them from there.
"""

from codewm.types import (  # noqa: F401 - re-exported for the old import path
    ENTRY_FUNCTION,
    EVENTS,
    START_MARKER,
    STATUSES,
    Event,
    Frame,
    RawStep,
    RunResult,
    Trace,
    action_lines,
    action_text,
    build_context,
    script_context,
    steps_complete,
)
