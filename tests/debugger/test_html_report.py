"""The HTML report, read as text: what it says, what it escapes, what it never references.

The sessions here are real (the oracle, or a scripted model that recites the real run with
one value changed); `test_html_report_browser.py` opens the same pages in a real browser.
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import pytest

from codewm.debugger.confidence import value_spans
from codewm.debugger.report import ReportSection, render_report, write_report
from codewm.debugger.session import DebugSession, Program
from codewm.format.cwm import format_prompt
from codewm.predict.fake import ScriptedLanguageModel
from codewm.predict.model_predictor import ModelPredictor
from debugger_helpers import WRONG_CALL, WRONG_INDEX, WRONG_SOURCE, reciting_model, tampered_frames

# A program whose data (and code) is hostile to a page that would not escape it: if any of it
# reached the HTML as markup, the script would set window.__pwned.
HOSTILE_VALUE = "</td><script>window.__pwned = 1</script>"
HOSTILE_SOURCE = (
    "def greet(name):\n"
    "    # </pre></div><script>window.__pwned = 2</script><img src=x onerror=\"window.__pwned = 3\">\n"
    "    text = 'hi ' + name\n"
    "    return text\n"
)
HOSTILE_CALL = f"greet({HOSTILE_VALUE!r})"

# A program with a call whose body `next` skips (12 real steps in `busy`'s body).
SKIP_SOURCE = "def busy(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n\ndef f(n):\n    t = busy(n)\n    return t + 1\n"
SKIP_CALL = "f(5)"

# The confidences the unsure model reports: the lie is written with little conviction.
LIE_CONFIDENCE = 0.35  # of y at WRONG_INDEX (y = 7, really 6)
X_CONFIDENCE = 0.93  # of x at the call of `double`


class _UnsureModel(ScriptedLanguageModel):
    """A scripted model that reports token probabilities: each value named in `confidences`
    ({frame index: {name: probability}}) gets that probability, everything else 1."""

    def __init__(self, script, confidences: dict[int, dict[str, float]], context: str, name: str) -> None:
        super().__init__(script, name)
        self._confidences = confidences
        self._prompt_start = format_prompt(context)

    def complete(self, prompts, sampling):
        out = super().complete(prompts, sampling)
        for prompt, completion in zip(prompts, out):
            wanted = self._confidences.get(prompt[len(self._prompt_start) :].count("<|frame_sep|>"), {})
            if not wanted or completion.token_logprobs is None:
                continue
            _, spans = value_spans(completion.text)
            logprobs = list(completion.token_logprobs)
            for name, p in wanted.items():
                low, high = spans[name]
                for at in range(low, high):  # tokens are characters: spread the log-probability
                    logprobs[at] = math.log(p) / (high - low)
            completion.token_logprobs = logprobs
        return out


def wrong_session(oracle, sandbox) -> DebugSession:
    """A session whose model lies at step WRONG_INDEX + 1 (y = 7, really 6), unsure of it."""
    context, _, frames = tampered_frames(oracle, WRONG_SOURCE, WRONG_CALL, WRONG_INDEX, "y", "7")
    call_index = next(i for i, f in enumerate(frames) if f.event == "call" and "x" in f.locals)
    model = _UnsureModel(reciting_model(frames, context), {WRONG_INDEX: {"y": LIE_CONFIDENCE}, call_index: {"x": X_CONFIDENCE}}, context, "wrong-on-purpose")
    session = DebugSession(Program.function(WRONG_SOURCE, WRONG_CALL, "double.py"), ModelPredictor(model), sandbox=sandbox)
    session.start()
    session.cont()
    return session


def oracle_session(oracle, sandbox, source: str, call: str, name: str = "prog.py") -> DebugSession:
    session = DebugSession(Program.function(source, call, name), oracle, sandbox=sandbox)
    session.start()
    session.cont()
    return session


def skip_session(oracle, sandbox) -> DebugSession:
    """An oracle session that steps over `busy(n)` with `next` (its body is not simulated)."""
    session = DebugSession(Program.function(SKIP_SOURCE, SKIP_CALL, "skip.py"), oracle, sandbox=sandbox)
    session.start()
    while not (session.current.event == "line" and session.current.frame.source.strip() == "t = busy(n)"):
        session.step()
    session.next()
    session.cont()
    return session


def what_if_session(oracle, sandbox) -> DebugSession:
    """An oracle session edited with `set` at WRONG_SOURCE's `z = y + 1`."""
    session = DebugSession(Program.function(WRONG_SOURCE, WRONG_CALL, "double.py"), oracle, sandbox=sandbox)
    session.start()
    session.step(WRONG_INDEX)
    assert session.current.frame.source.strip() == "z = y + 1"
    session.set_value("y", "100")
    session.cont()
    return session


class _Rows(HTMLParser):
    """The trace rows of a page: (id, classes, data-step) of each <tr class="step ...">."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str], int]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "tr" and "step" in (attrs.get("class") or "").split():
            self.rows.append((attrs.get("id", ""), attrs["class"].split(), int(attrs["data-step"])))


def parse_rows(page: str) -> _Rows:
    parser = _Rows()
    parser.feed(page)
    return parser


def section(session, label=None) -> ReportSection:
    return ReportSection.from_session(session, session.truth(), label=label)


def test_first_divergence_row_summary_and_code_line(oracle, sandbox):
    session = wrong_session(oracle, sandbox)
    page = render_report([section(session)])
    rows = parse_rows(page).rows
    assert len(rows) == len(session.steps)
    first = [row for row in rows if "first-divergence" in row[1]]
    assert first == [("s0-first-divergence", ["step", "differs", "first-divergence"], WRONG_INDEX + 1)]
    # every other row agrees (the model lies once; y is right again on the next line)
    assert all("agree" in classes for _, classes, step in rows if step != WRONG_INDEX + 1)
    # the summary names the step, its line and what differs, and links to the row
    assert f'<a href="#s0-first-divergence">step {WRONG_INDEX + 1}, line 3</a>' in page
    assert "y: predicted 7, real 6" in page
    assert f"{len(session.steps) - 1} of {len(session.steps)} steps agree" in page
    # the code: the line of the first divergence (line 3 of double.py) is highlighted
    assert re.search(r'<div class="cl first-divergence-line" id="s0-L3"><span class="ln">3</span><span class="tx">    z = y \+ 1</span>', page)
    assert page.count('class="cl first-divergence-line"') == 1
    # confidences: the lie at 35%, shaded as unsure; x at 93%
    assert '<span class="val c3"' in page and ">y = 7<span class=\"pct\">35%</span>" in page
    assert '>x = 3<span class="pct">93%</span>' in page
    assert "wrong-on-purpose" in page and "returned 7" in page  # the model and the output
    assert "the entry point returned: the whole run is predicted" in page
    assert "<strong>Programs</strong>" not in page  # one section: no table of contents


def test_hostile_values_and_code_are_shown_as_text(oracle, sandbox):
    session = oracle_session(oracle, sandbox, HOSTILE_SOURCE, HOSTILE_CALL, "<b>evil</b>.py")
    page = render_report([section(session, label="<script>window.__pwned = 4</script>")], title="<i>title</i>")
    assert parse_rows(page).scripts == 0  # not one <script> element on the page
    for needle in ("<script", "<img", "<b>evil", "<i>title", "</td><script", "onerror=\""):
        assert needle not in page, needle
    # ... and every one of those texts is there, escaped
    assert "&lt;/td&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;window.__pwned = 3&quot;&gt;" in page
    assert "&lt;b&gt;evil&lt;/b&gt;.py" in page and "&lt;i&gt;title&lt;/i&gt;" in page
    assert "no divergence" in page


def test_no_external_reference_of_any_kind(oracle, sandbox):
    page = render_report([section(wrong_session(oracle, sandbox)), section(skip_session(oracle, sandbox))])
    assert not re.search(r"https?:", page, re.I)
    assert "//" not in page  # no scheme-relative URL (and no JS comment either)
    assert "url(" not in page and "@import" not in page and "<link" not in page and "<script" not in page
    assert not re.search(r"\bsrc\s*=", page)
    # every link stays on the page
    links = re.findall(r'\bhref\s*=\s*"([^"]*)"', page)
    assert links and all(link.startswith("#") for link in links)
    # and every link points at an id that exists
    ids = set(re.findall(r'\bid="([^"]*)"', page))
    assert {link[1:] for link in links} <= ids
    # the page forbids fetching anything, whatever a section holds
    assert "default-src 'none'" in page


def test_write_is_atomic_and_leaves_no_temporary_file(oracle, sandbox, tmp_path):
    sections = [section(wrong_session(oracle, sandbox))]
    path = tmp_path / "report.html"
    path.write_text("old")
    path.chmod(0o640)
    assert write_report(path, sections) == path
    assert path.read_text(encoding="utf-8") == render_report(sections)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert path.stat().st_mode & 0o777 == 0o640  # the mode of the file replaced is kept
    fresh = write_report(tmp_path / "fresh.html", sections, title="t")
    assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    assert "<title>t</title>" in fresh.read_text(encoding="utf-8")


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(oracle, sandbox, tmp_path, monkeypatch):
    import os

    sections = [section(wrong_session(oracle, sandbox))]
    path = tmp_path / "report.html"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_report(path, sections)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "no such folder" / "r.html", sections)


def test_skipped_body_is_labelled_with_the_real_steps_skipped(oracle, sandbox):
    session = skip_session(oracle, sandbox)
    truth = session.truth()
    [skipped] = [i for i, step in enumerate(session.steps) if step.skipped_body]
    real_skipped = truth.rows[skipped].skipped_real
    assert real_skipped > 10
    page = render_report([section(session)])
    rows = parse_rows(page).rows
    assert [step for _, classes, step in rows if "skipped-body" in classes] == [skipped + 1]
    assert "body skipped by next" in page
    assert f"{real_skipped} real steps skipped" in page
    assert truth.first_divergence is None and "no divergence" in page


def test_what_if_rows_are_labelled_and_not_counted(oracle, sandbox):
    session = what_if_session(oracle, sandbox)
    truth = session.truth()
    assert truth.first_divergence is None
    page = render_report([section(session)])
    rows = parse_rows(page).rows
    what_if = [step for _, classes, step in rows if "what-if" in classes]
    assert what_if == list(range(session.first_edit + 1, len(session.steps) + 1))
    assert not [row for row in rows if "first-divergence" in row[1]]
    assert "y = 100<span class=\"tag\">set</span>" in page  # the edited value, marked as yours
    assert f"{truth.agreeing} of {truth.compared} steps agree" in page
    assert f"{len(what_if)} what-if steps after your <code>set</code>, not compared" in page


def test_several_sections_get_anchors_and_a_table_of_contents(oracle, sandbox):
    sessions = [wrong_session(oracle, sandbox), skip_session(oracle, sandbox), what_if_session(oracle, sandbox)]
    page = render_report([section(s) for s in sessions], title="three programs")
    for number in range(3):
        assert f'<section class="card program" id="s{number}">' in page
        assert f'<a href="#s{number}">' in page
    assert "<strong>Programs</strong>" in page
    assert f"diverges at step {WRONG_INDEX + 1}" in page
    # ids are per section: exactly one first divergence, s0's
    assert page.count('id="s0-first-divergence"') == 1 and "s1-first-divergence" not in page
    rows = parse_rows(page).rows
    assert len(rows) == sum(len(s.steps) for s in sessions)
    assert len({row_id for row_id, _, _ in rows}) == len(rows)  # no id twice on the page
    # the default labels: file and call
    assert "double.py: double(3)" in page and "skip.py: f(5)" in page


def test_a_whole_script_a_stale_truth_and_an_empty_report(oracle, sandbox):
    program = Program.whole_script("x = 1\ny = x + 1\n", "script.py")
    session = DebugSession(program, oracle, sandbox=sandbox)
    session.start()
    session.step(2)
    truth = session.truth()  # taken here; the session goes on
    session.cont()
    page = render_report([ReportSection.from_session(session, truth)])
    assert "the whole script" in page and "script.py" in page
    assert START_MARKER_TEXT not in page  # the marker line is codewm's, not shown
    assert '<span class="ln">1</span><span class="tx">x = 1</span>' in page  # the user's numbering
    rows = parse_rows(page).rows
    assert len(rows) == len(session.steps)
    assert sum("not-compared" in classes for _, classes, _ in rows) == len(session.steps) - len(truth.rows)
    empty = render_report([])
    assert "No program in this report" in empty and "<html" in empty


START_MARKER_TEXT = "START_OF_TRACE"


# A call whose value is assigned: after `y = inc(x)` returns, the step changed only `y`.
NESTED_SOURCE = "def inc(x):\n    return x + 1\n\ndef f(x):\n    y = inc(x)\n    return y\n"
NESTED_CALL = "f(2)"


def _column_names(page: str, column: str) -> list[list[str]]:
    """Per trace row, the names shown in the row's `column` ("predicted" or "real") cell."""
    cells = re.findall(rf'<td class="state {column}">(.*?)</td>', page, re.S)
    return [re.findall(r'<span class="val [^"]*" title="([^"=]+) = ', cell) for cell in cells]


def test_both_columns_mark_what_a_step_changed_by_the_same_rule(oracle, sandbox):
    # The real column measures a change against the same function's previous step, as the
    # session (and so the predicted column) does: returning from `inc` changes only `y`,
    # not every local of `f` as the CWM `".."` reference rule would say.
    session = oracle_session(oracle, sandbox, NESTED_SOURCE, NESTED_CALL, "nested.py")
    page = render_report([section(session)])
    predicted, real = _column_names(page, "predicted"), _column_names(page, "real")
    assert len(predicted) == len(real) == len(session.steps)
    assert real == predicted
    after_return = next(i for i, step in enumerate(session.steps) if step.frame.source.strip() == "return y" and step.event == "line")
    assert real[after_return] == ["y"]
