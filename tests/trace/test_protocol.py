"""The sandbox's wire format (codewm.trace.protocol), on its own."""

from __future__ import annotations

import os
import subprocess
import sys

from codewm.trace.protocol import (
    TEXTS,
    ChannelReader,
    SignedChannel,
    pack_payload,
    put_formatted,
    read_message,
    take_formatted,
    unpack_payload,
    write_message,
)


def test_importing_the_protocol_loads_nothing_else():
    # The host imports the protocol: it must not load libc or the worker's machinery.
    code = (
        "import sys, codewm.trace.protocol; "
        "loaded = [m for m in ('ctypes', 'codewm.trace.system', 'codewm.trace.worker', 'codewm.trace.child', 'codewm.trace.tracer') if m in sys.modules]; "
        "print(loaded)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert done.stdout.strip() == "[]"


def test_a_message_and_its_texts_round_trip():
    texts = ["caf\u00e9 <|frame_sep|>", "\ud800 lone surrogate", ""]
    message = unpack_payload(pack_payload({"a": [1, "x"], "b": None}, texts))
    assert message.pop(TEXTS) == texts
    assert message == {"a": [1, "x"], "b": None}


def test_messages_over_a_pipe():
    read_fd, write_fd = os.pipe()
    try:
        write_message(write_fd, {"n": 1}, ["long text"])
        write_message(write_fd, {"n": 2})
        assert read_message(read_fd) == {"n": 1, TEXTS: ["long text"]}
        assert read_message(read_fd) == {"n": 2}
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_formatted_run_travels_with_its_texts_after_the_json():
    item: dict = {"status": "ok"}
    texts = ["first"]
    put_formatted(item, {"text": "the trace", "n": 3, "flags": [True]}, texts)
    assert texts == ["first", "the trace"] and "the trace" not in str(item)
    message = unpack_payload(pack_payload(item, texts))
    assert take_formatted(message, message[TEXTS]) == {"n": 3, "flags": [True], "text": "the trace"}
    assert "formatted" not in message
    assert take_formatted({"formatted": {}, "formatted_texts": {"text": 5}}, []) is None  # no such text
    assert take_formatted({"status": "ok"}, []) is None


def test_the_channel_believes_only_signed_messages():
    read_fd, write_fd = os.pipe()
    try:
        key = os.urandom(32)
        channel = SignedChannel(write_fd, key)
        os.write(write_fd, b"garbage" + key[:8] + b"\x00\x00\x00\x05forged")  # the marker, a wrong tag
        channel.send({"final": {"status": "ok"}}, ["text"])
        reader = ChannelReader(key)
        messages = reader.feed(os.read(read_fd, 1 << 16))
        assert messages == [{"final": {"status": "ok"}, TEXTS: ["text"]}]
        assert reader.rejected > 0
    finally:
        os.close(read_fd)
        os.close(write_fd)
