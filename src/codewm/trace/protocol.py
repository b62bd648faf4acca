"""The sandbox's wire format: how the host, the worker and a child talk.

- host <-> worker (stdin/stdout): length-prefixed messages (`write_message`, `read_message`);
- child -> worker (the result pipe): the same messages, each signed with a per-run secret
  (`SignedChannel`, read by `ChannelReader`), since the program runs in the child and can
  write into any of its descriptors;
- child -> worker (the output pipe): the programs' stdout and stderr, one program after
  another, each ended by `OUTPUT_MARK` and the run's marker (split by `OutputSplitter`).

A message is a JSON object plus, optionally, long texts (traces) carried after it as raw
UTF-8 instead of inside the JSON, where escaping and unescaping them would cost more than
everything else in the message. The receiver finds them in message[TEXTS], in order; the
JSON refers to them by position.

Importing this module has no side effect: the host imports it without the worker's
machinery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct

HEADER = struct.Struct(">I")
TEXTS = "_texts"
OUTPUT_MARK = b"\x00codewm-output-end\x00"  # + the run's 8-byte marker: ends one program's output
_TAG_BYTES = 16


def pack_payload(message: dict, texts: list[str] = ()) -> bytes:
    """One message as bytes: its JSON, then each text (see the module docstring)."""
    # ensure_ascii, surrogatepass: values may hold lone surrogates (from a user repr), which
    # plain UTF-8 cannot encode
    data = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    parts = [HEADER.pack(len(data)), data]
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        parts += [HEADER.pack(len(encoded)), encoded]
    return b"".join(parts)


def unpack_payload(payload: bytes) -> dict:
    """The message `pack_payload` made; raises ValueError if `payload` is not one."""
    (size,) = HEADER.unpack_from(payload, 0)
    at = HEADER.size + size
    message = json.loads(payload[HEADER.size : at])
    if not isinstance(message, dict) or at > len(payload):
        raise ValueError("not a message")
    texts = []
    while at < len(payload):
        (size,) = HEADER.unpack_from(payload, at)
        at += HEADER.size
        if at + size > len(payload):
            raise ValueError("a text runs past the end of the message")
        texts.append(payload[at : at + size].decode("utf-8", "surrogatepass"))
        at += size
    if texts:
        message[TEXTS] = texts
    return message


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, however many writes it takes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_message(fd: int, message: dict, texts: list[str] = ()) -> None:
    payload = pack_payload(message, texts)
    write_all(fd, HEADER.pack(len(payload)) + payload)


def read_exact(fd: int, size: int) -> bytes:
    """Exactly `size` bytes from `fd`; EOFError if the other end closes first."""
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> dict:
    """The next message `write_message` wrote to `fd`; ValueError if it is malformed."""
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    try:
        return unpack_payload(read_exact(fd, size))
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed message: {exc}") from None


# -- a formatter's output in a message ------------------------------------------------------------
# What a caller's formatter makes of a run (a dict; see `codewm.trace.sandbox`) travels under
# "formatted", its str values moved after the JSON as texts and listed by key and position
# under "formatted_texts".
def put_formatted(item: dict, formatted: dict, texts: list[str]) -> None:
    """Store `formatted` in `item` (a message or a part of one), appending its str values to
    `texts`, the texts that travel after the message's JSON."""
    rest, positions = {}, {}
    for key, value in formatted.items():
        if type(value) is str:
            positions[key] = len(texts)
            texts.append(value)
        else:
            rest[key] = value
    item["formatted"] = rest
    item["formatted_texts"] = positions


def take_formatted(item: dict, texts: list[str]) -> dict | None:
    """What `put_formatted` stored in `item` (removed from it), its texts taken back from
    `texts`; None if there is none or it does not read."""
    rest, positions = item.pop("formatted", None), item.pop("formatted_texts", None)
    if not isinstance(rest, dict) or not isinstance(positions, dict):
        return None
    formatted = dict(rest)
    for key, position in positions.items():
        if not (type(position) is int and 0 <= position < len(texts)):
            return None
        formatted[key] = texts[position]
    return formatted


# -- the steps' MAC -------------------------------------------------------------------------------
def steps_digest(key: bytes, period: int, steps: list) -> str:
    """The MAC the C tracer keeps over the steps it records (`_ctracer.take_digest`; see
    _ctracer.c): sha256(key + sha256(key + period + the steps' encoding)), as hex. The worker
    compares it with the child's, so steps edited or made up in the child do not pass."""
    inner = hashlib.sha256(bytes(key) + period.to_bytes(8, "big"))
    update = inner.update
    for step in steps:
        parts: list[bytes] = []
        for value in step:
            _encode_field(value, parts)
        update(b"".join(parts))
    return hashlib.sha256(bytes(key) + inner.digest()).hexdigest()


def _encode_field(value, parts: list[bytes]) -> None:
    if value is None:
        parts.append(b"n")
    elif type(value) is str:
        encoded = value.encode("utf-8", "surrogatepass")
        parts += (b"s", len(encoded).to_bytes(4, "big"), encoded)
    elif type(value) is int:
        parts += (b"i", value.to_bytes(8, "big", signed=True))
    elif type(value) is dict:
        parts += (b"d", len(value).to_bytes(4, "big"))
        for key, item in value.items():
            _encode_field(key, parts)
            _encode_field(item, parts)
    else:
        raise TypeError(f"a step holds only str, int, None and dicts of str, not {type(value).__name__}")


# -- the child's signed result channel ------------------------------------------------------------
class SignedChannel:
    """The child's result channel to the worker, authenticated with a per-run secret.

    The program runs in the child's own process and can write to any of its descriptors,
    the result pipe included. Every message therefore carries a secret marker (to find
    message boundaries again after garbage) and an HMAC; the worker ignores anything else,
    so a program cannot decide its own status or trace by writing into the pipe. (A program
    that reads the secret out of codewm's memory could still forge; that needs deliberate
    introspection of codewm's internals; docs/tracer.md, "Trust boundary".)

    `key` is a bytearray in the child, so that a sealed run (`codewm.trace._csealed`) can
    zero it, and the marker with it, before the program runs.
    """

    def __init__(self, fd: int, key: bytes | bytearray) -> None:
        self.fd = fd
        self.key = key
        self.marker = key[:8]
        self.counter = 0

    def send(self, message: dict, texts: list[str] = ()) -> None:
        data = pack_payload(message, texts)
        tag = hmac.digest(self.key, self.counter.to_bytes(8, "big") + data, "sha256")[:_TAG_BYTES]
        self.counter += 1
        write_all(self.fd, self.marker + HEADER.pack(len(data)) + tag + data)


class ChannelReader:
    """The worker's side of `SignedChannel`: yields authentic messages, skips the rest."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.marker = key[:8]
        self.counter = 0
        self.buffer = bytearray()
        self.rejected = 0  # bytes that were not an authentic message
        self.malformed = 0  # authentic messages that did not read

    def feed(self, data: bytes) -> list[dict]:
        """The authentic messages that `data` completes, in order."""
        buffer = self.buffer
        buffer += data
        messages = []
        head = len(self.marker) + HEADER.size + _TAG_BYTES
        while True:
            at = buffer.find(self.marker)
            if at < 0:
                keep = len(self.marker) - 1  # a marker may be split across reads
                self.rejected += max(len(buffer) - keep, 0)
                del buffer[: max(len(buffer) - keep, 0)]
                return messages
            if at:
                self.rejected += at
                del buffer[:at]
            if len(buffer) < head:
                return messages
            (size,) = HEADER.unpack_from(buffer, len(self.marker))
            if len(buffer) < head + size:
                return messages
            tag = bytes(buffer[head - _TAG_BYTES : head])
            data = bytes(buffer[head : head + size])
            expected = hmac.digest(self.key, self.counter.to_bytes(8, "big") + data, "sha256")[:_TAG_BYTES]
            if not hmac.compare_digest(tag, expected):
                self.rejected += len(self.marker)
                del buffer[: len(self.marker)]  # not ours: look for the next marker
                continue
            del buffer[: head + size]
            self.counter += 1
            try:
                messages.append(unpack_payload(data))
            except (ValueError, struct.error, UnicodeDecodeError, RecursionError, MemoryError):
                # Authentic but unreadable (deeply nested JSON, say): only a program that
                # reached the child's key makes one; the worker fails that program.
                self.malformed += 1


class OutputSplitter:
    """Splits a child's output stream into one piece per program, at the marks the child
    writes after each program; keeps at most `limit` bytes of each piece."""

    def __init__(self, mark: bytes, limit: int) -> None:
        self.mark = mark
        self.limit = limit
        self.done: list[tuple[bytes, bool]] = []
        self.current = bytearray()
        self.current_total = 0
        self.tail = b""  # the end of the last read, in case a mark is split across reads

    def _add(self, data: bytes) -> None:
        self.current_total += len(data)
        room = self.limit - len(self.current)
        if room > 0:
            self.current += data[:room]

    def feed(self, data: bytes) -> None:
        data = self.tail + data
        while True:
            at = data.find(self.mark)
            if at < 0:
                break
            self._add(data[:at])
            self.done.append((bytes(self.current), self.current_total > len(self.current)))
            self.current, self.current_total = bytearray(), 0
            data = data[at + len(self.mark) :]
        keep = len(self.mark) - 1
        self._add(data[: max(len(data) - keep, 0)])
        self.tail = data[max(len(data) - keep, 0) :]

    def segments(self) -> list[tuple[bytes, bool]]:
        """The finished pieces (bytes, truncated), then what followed the last mark (a
        program cut short)."""
        self._add(self.tail)
        self.tail = b""
        return self.done + [(bytes(self.current), self.current_total > len(self.current))]
