"""codewm: an open toolkit for code world models.

The stages, in the order data flows through them: `codewm.trace` (ground truth: tracer,
renderer, sandbox, the `Trace` type) and `codewm.format` (CWM token text and JSON).
"""

__version__ = "0.1.0"
