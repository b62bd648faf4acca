"""A `Trace` as JSON, both directions: lossless (line numbers and function names included).

The document is `{"format": "codewm.trace", "version": 1, "context": ..., "complete": ...,
"runtime": {"python": ..., "hook": ...}, "frames": [...]}`; `frames` holds full locals (no
`".."` shorthand); `runtime` (where the trace was recorded) is there when known.
"""

from __future__ import annotations

import json

from codewm.types import Trace

FORMAT_NAME = "codewm.trace"
FORMAT_VERSION = 1


class TraceFormatError(ValueError):
    """A JSON document that is not a codewm trace; the message says what and where."""


def trace_to_dict(trace: Trace) -> dict:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **trace.to_dict()}


def trace_to_json(trace: Trace, indent: int | None = None) -> str:
    return json.dumps(trace_to_dict(trace), ensure_ascii=False, indent=indent)


def trace_from_dict(data: object) -> Trace:
    if not isinstance(data, dict):
        raise TraceFormatError(f"a trace must be a JSON object, got {type(data).__name__}")
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise TraceFormatError(f"not a codewm trace: format is {data.get('format')!r}")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise TraceFormatError(f"unsupported codewm trace version {version!r} (this codewm reads {FORMAT_VERSION})")
    if not isinstance(data.get("context"), str):
        raise TraceFormatError("a trace needs a string 'context'")
    runtime = data.get("runtime")
    if runtime is not None and not (isinstance(runtime, dict) and all(isinstance(v, str) for v in runtime.values())):
        raise TraceFormatError("'runtime' must be an object of strings, such as {\"python\": \"3.11.7\", \"hook\": \"c\"}")
    frames = data.get("frames", [])
    if not isinstance(frames, list):
        raise TraceFormatError("'frames' must be a list")
    for index, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise TraceFormatError(f"frames[{index}] must be an object")
        try:
            Trace.from_dict({"context": "", "frames": [frame]})
        except (KeyError, TypeError, ValueError) as exc:
            raise TraceFormatError(f"frames[{index}] is not a valid frame: {exc}") from None
    return Trace.from_dict(data)


def trace_from_json(text: str) -> Trace:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TraceFormatError(f"not valid JSON: {exc}") from None
    return trace_from_dict(data)
