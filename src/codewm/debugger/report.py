"""The debugger's HTML report: the code, and the predicted and real traces side by side.

One self-contained file (inline CSS, no script, nothing fetched: it opens the same offline,
from a mail attachment or a CI artifact). A *section* is one debugged program, captured
from a session and its `truth()` by `ReportSection.from_session`; a page holds any number
of them (`codewm demo` writes every bundled example into one), each under its own anchor
(`#s0`, `#s1`, ...), with a table of contents when there is more than one.

Each section shows:

- a summary: program, call, model, how many steps agree with the real run, the first
  divergence (linked to its row, `#s0-first-divergence`), predicted against real output,
  why the prediction ended, and the real run's status;
- the code, numbered as the user's file is, with the first divergence's line highlighted;
- one row per predicted step: the changed locals (or the return value) as the model wrote
  them, each value shaded by the model's confidence in it, beside the real frame.

Everything that comes from the program or the model (code, values, names, labels) goes
through `_e` (HTML escaping): a program under debug may hold any text at all.
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from codewm.debugger.confidence import RETURN_VALUE
from codewm.debugger.session import ENDED_COMPLETE, Program, Step, changed_names
from codewm.debugger.truth import StepComparison, Truth
from codewm.types import Frame, action_lines

DEFAULT_TITLE = "codewm neural debugger"
VALUE_CHARS = 160  # a value longer than this is cut on the page (the whole of it is in its tooltip)
TOOLTIP_CHARS = 4000  # and a tooltip longer than this is cut too: a huge list must not bloat the page

# Confidence shades, from sure to unsure: (lowest probability of the band, CSS class, legend).
# Bands rather than a continuous scale so that the legend can name each colour.
CONFIDENCE_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.99, "c0", "99% or more"),
    (0.90, "c1", "90 to 99%"),
    (0.70, "c2", "70 to 90%"),
    (0.40, "c3", "40 to 70%"),
    (0.0, "c4", "under 40%"),
)


@dataclass
class ReportSection:
    """One debugged program, everything the page needs of it (a snapshot: the session can
    go on, or be edited with `set`, without changing a section already taken)."""

    label: str  # the section's heading, e.g. "fibonacci.py: fib(4)"
    program: Program
    call: str  # the entry call, "" for a whole script
    model: str
    steps: list[Step]
    changed: list[list[str]]  # per step: the names whose value the step changed (session.changed)
    truth: Truth
    ended: str | None  # why the prediction ended (DebugSession.ended; None: it could go on)
    notes: list[str] = field(default_factory=list)  # what the session told the user (e.g. `next` cannot skip)
    model_failed: bool = False  # the prediction ended because the model could not write a frame

    @classmethod
    def from_session(cls, session, truth: Truth, label: str | None = None) -> "ReportSection":
        program = session.program
        call = _entry_call(program)
        if label is None:
            label = f"{program.name}: {call}" if call else program.name
        steps = list(session.steps)
        return cls(
            label=label,
            program=program,
            call=call,
            model=str(getattr(session.predictor, "name", "") or ""),
            steps=steps,
            changed=[session.changed(i) for i in range(len(steps))],
            truth=truth,
            ended=session.ended,
            notes=list(session.notes),
            model_failed=session.model_failed,
        )

    # -- what the summary says ------------------------------------------------------------
    @property
    def first_divergence(self) -> int | None:
        """The step (0-based) of the first divergence, if it is one of this section's steps."""
        first = self.truth.first_divergence
        return first if first is not None and first < len(self.steps) else None

    @property
    def predicted_outcome(self) -> str | None:
        """'returned V' / 'raised E' as predicted, None if the prediction did not get there."""
        return _outcome([s.frame for s in self.steps]) if self.ended == ENDED_COMPLETE else None

    @property
    def real_outcome(self) -> str | None:
        # compare() gives a real output only for a complete run (one that left the entry point)
        return _outcome(self.truth.real_frames) if self.truth.real_output is not None else None


def _entry_call(program: Program) -> str:
    """The call a function-level context traces: its last line is `    return CALL`
    (`build_context`); a whole script has none."""
    if program.script:
        return ""
    lines = program.context.rstrip("\n").split("\n")
    last = lines[-1].strip() if lines else ""
    return last.removeprefix("return").strip()


def _outcome(frames: list[Frame]) -> str | None:
    """How the entry point was left: a CWM trace that raises ends with the exception frame,
    then a return frame whose value means nothing ('None'), both at depth 0."""
    if not frames or frames[-1].event != "return" or frames[-1].depth != 0:
        return None
    if len(frames) >= 2 and frames[-2].event == "exception" and frames[-2].depth == 0:
        return f"raised {frames[-2].value}"
    return f"returned {frames[-1].value}"


# -- small HTML helpers ---------------------------------------------------------------------
def _e(text: object) -> str:
    """HTML-escaped text, quotes included (so that it is safe in attributes too)."""
    return html.escape(str(text), quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _percent(p: float) -> str:
    """A probability as a percentage that never rounds an unsure value up to 100%."""
    if p >= 1 - 1e-9:
        return "100%"
    pct = p * 100
    if pct >= 99.5:
        return ">99%"
    if pct < 1:
        return "<1%" if pct > 0 else "0%"
    return f"{pct:.0f}%"


def _band(p: float | None) -> str:
    if p is None:
        return "cn"
    return next(css for low, css, _ in CONFIDENCE_BANDS if p >= low)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _value_chip(name: str | None, value: str, p: float | None, edited: bool = False) -> str:
    """One predicted value, shaded by the model's confidence in it, the percentage beside it."""
    shown = f"{name} = {value}" if name else value
    text = _e(_cut(shown, VALUE_CHARS))
    if edited:
        tip = "you set this value (the real run never had it)"
        return f'<span class="val edited" title="{_e(tip)}">{text}<span class="tag">set</span></span>'
    if p is None:
        tip = f"{_cut(shown, TOOLTIP_CHARS)}\nno confidence reported for this value"
        return f'<span class="val cn" title="{_e(tip)}">{text}</span>'
    tip = f"{_cut(shown, TOOLTIP_CHARS)}\nthe model's confidence in this value: {p:.4f}"
    return f'<span class="val {_band(p)}" title="{_e(tip)}">{text}<span class="pct">{_percent(p)}</span></span>'


def _real_chip(name: str | None, value: str) -> str:
    shown = f"{name} = {value}" if name else value
    return f'<span class="val real" title="{_e(_cut(shown, TOOLTIP_CHARS))}">{_e(_cut(shown, VALUE_CHARS))}</span>'


# -- the page -------------------------------------------------------------------------------
CSS = """
:root {
  --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --paper: #ffffff; --wash: #f6f8fa;
  --ok: #1a7f37; --bad: #cf222e; --bad-wash: #ffebe9; --first: #ffc9c2; --first-edge: #cf222e;
  --whatif: #eef1ff; --whatif-edge: #6e77d8; --skip: #fff4d6;
  --c1: #fff3dc; --c2: #ffe0a8; --c3: #ffb866; --c4: #ff8a65;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--ink); background: var(--wash);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 0 0 14px; word-break: break-word; }
h3 { font-size: 15px; margin: 22px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono, .val { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 13px; }
.subtitle { color: var(--muted); margin: 0 0 18px; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 20px 22px; margin: 0 0 26px; }
nav.toc ol { margin: 6px 0 0; padding-left: 22px; }
nav.toc li { margin: 2px 0; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; margin-left: 6px; vertical-align: 1px; }
.badge.ok { background: #dafbe1; color: var(--ok); }
.badge.bad { background: var(--bad-wash); color: var(--bad); }
.badge.neutral { background: #eaeef2; color: var(--muted); }
/* the legend */
.legend { display: flex; flex-wrap: wrap; gap: 8px 22px; align-items: center; font-size: 13px; color: var(--muted); }
.legend .group { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.swatch { display: inline-block; padding: 1px 8px; border-radius: 4px; border: 1px solid var(--line); color: var(--ink); }
/* the summary */
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; word-break: break-word; }
ul.diffs { margin: 4px 0 0; padding-left: 20px; }
ul.notes { margin: 10px 0 0; padding-left: 20px; color: var(--muted); }
/* the code */
.code { border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; background: #fbfcfd; padding: 6px 0; }
.code .cl { display: flex; white-space: pre; line-height: 1.55; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 13px; }
.code .ln { flex: 0 0 3.6em; text-align: right; padding-right: 12px; color: #8c959f; user-select: none; }
.code .tx { padding-right: 16px; }
.code .wrapper { color: var(--muted); font-style: italic; }
.code .cl.first-divergence-line { background: var(--first); box-shadow: inset 4px 0 0 var(--first-edge); }
.code .cl.first-divergence-line .ln { color: var(--bad); font-weight: 700; }
.code .cl.first-divergence-line .tx::after { content: "  \\2190  first divergence"; color: var(--bad); font-family: system-ui, sans-serif; font-style: normal; font-weight: 600; }
/* the trace */
.filter { font-size: 13px; color: var(--muted); margin: 0 0 8px; display: inline-flex; gap: 6px; align-items: center; cursor: pointer; }
section.program:has(input.only-diff:checked) tr.step.agree { display: none; }
.tablewrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table.trace { border-collapse: collapse; width: 100%; font-size: 13px; }
table.trace th { position: sticky; top: 0; background: #eef1f4; text-align: left; font-weight: 600; padding: 6px 8px; border-bottom: 1px solid var(--line); z-index: 1; }
table.trace td { padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; background: var(--paper); }
/* the narrow columns take the width of their content, the states the rest */
table.trace .num, table.trace .event, table.trace .line, table.trace .mark { width: 1%; white-space: nowrap; }
table.trace td.num, table.trace td.line { text-align: right; color: var(--muted); }
table.trace td.event { white-space: nowrap; color: var(--muted); }
table.trace td.src { white-space: pre; color: #24292f; }
table.trace td.src .pct { margin-left: 8px; }
table.trace td.state { min-width: 14em; }
table.trace td.mark { text-align: center; font-weight: 700; white-space: nowrap; }
tr.step.agree td.mark { color: var(--ok); }
tr.step.differs td { background: var(--bad-wash); }
tr.step.differs td.mark { color: var(--bad); }
tr.step.first-divergence td { background: var(--first); border-top: 2px solid var(--first-edge); border-bottom: 2px solid var(--first-edge); }
tr.step.first-divergence td:first-child { box-shadow: inset 5px 0 0 var(--first-edge); }
tr.step.what-if td { background: var(--whatif); }
tr.step.what-if td:first-child { box-shadow: inset 4px 0 0 var(--whatif-edge); }
tr.step.what-if td.mark { color: var(--whatif-edge); }
tr.step.agree td.real .val { opacity: .75; }
.val { display: inline-block; margin: 1px 6px 1px 0; padding: 0 6px; border-radius: 4px; border: 1px solid transparent; white-space: pre-wrap; word-break: break-word; max-width: 40em; }
/* confidence shades: on a value chip, and on the code of a row (the line the model chose) */
.c1 { background: var(--c1); }
.c2 { background: var(--c2); }
.c3 { background: var(--c3); }
.c4 { background: var(--c4); }
.val.c0 { border-color: #e1e5e9; }
.val.c1 { border-color: #f4d9a8; }
.val.c2 { border-color: #eec57e; }
.val.c3 { border-color: #e09a45; }
.val.c4 { border-color: #d9663f; }
.srctext { border-radius: 3px; padding: 0 2px; }
.val.cn { background: transparent; border: 1px dashed #c4cbd2; }
.val.real { background: #f3f5f7; border-color: #e1e5e9; }
.val.edited { background: var(--whatif); border-color: var(--whatif-edge); }
.pct { color: var(--muted); font-size: 11px; margin-left: 6px; font-family: system-ui, sans-serif; }
.val.c3 .pct, .val.c4 .pct { color: #3d1f00; font-weight: 600; }
.tag { display: inline-block; font-family: system-ui, sans-serif; font-size: 11px; font-weight: 600; border-radius: 8px; padding: 0 7px; margin-left: 6px; vertical-align: 1px; white-space: nowrap; }
.tag.first { background: var(--first-edge); color: #fff; }
.tag.whatif, .val.edited .tag { background: var(--whatif-edge); color: #fff; }
.tag.skip { background: var(--skip); color: #7a5300; border: 1px solid #e8c66b; }
.tag.gone { background: #eaeef2; color: var(--muted); }
.none { color: #8c959f; }
.diff { color: var(--bad); font-size: 12px; margin-top: 2px; }
.realwhere { color: var(--muted); font-size: 12px; }
"""


def render_report(sections: Sequence[ReportSection], title: str = DEFAULT_TITLE) -> str:
    """The whole page, one string of HTML."""
    sections = list(sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may be fetched: this forbids it outright, whatever a section contains.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_e(title)}</h1>",
        '<p class="subtitle">A world model predicted each step of these programs; the real run, traced in a sandbox, is shown beside it.</p>',
        _legend(),
    ]
    if len(sections) > 1:
        parts.append(_toc(sections))
    if not sections:
        parts.append('<div class="card"><p class="none">No program in this report.</p></div>')
    for number, section in enumerate(sections):
        parts.append(_section(section, f"s{number}"))
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def write_report(path: str | os.PathLike, sections: Sequence[ReportSection], title: str = DEFAULT_TITLE) -> Path:
    """Write the page to `path` atomically (a reader never sees half a report): a temporary
    file in the same folder, then os.replace, which is atomic within one file system."""
    path = Path(path)
    page = render_report(sections, title)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file private (0600); a report is meant to be read like any file
        # written the ordinary way, so keep the mode of the one replaced, or 0644.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return path


def _legend() -> str:
    bands = "".join(f'<span class="val {css}">{_e(text)}</span>' for _, css, text in CONFIDENCE_BANDS)
    return (
        '<div class="card legend" id="legend">'
        '<div class="group"><strong>Rows:</strong>'
        '<span class="swatch" style="color:var(--ok)">\u2713 agrees with the real run</span>'
        '<span class="swatch" style="background:var(--bad-wash)"><span style="color:var(--bad)">\u2717</span> differs</span>'
        '<span class="swatch" style="background:var(--first);border-color:var(--first-edge)">first divergence</span>'
        '<span class="swatch" style="background:var(--whatif);border-color:var(--whatif-edge)">what if (after your <code>set</code>)</span>'
        '<span class="tag skip">body skipped by next</span></div>'
        f'<div class="group"><strong>Model confidence in a value:</strong>{bands}'
        '<span class="val cn">not reported</span></div>'
        "</div>"
    )


def _toc(sections: list[ReportSection]) -> str:
    items = []
    for number, section in enumerate(sections):
        truth = section.truth
        if section.first_divergence is not None:
            badge = f'<span class="badge bad">diverges at step {section.first_divergence + 1}</span>'
        elif section.model_failed:
            badge = f'<span class="badge bad">no frame at step {len(section.steps) + 1}</span>'
        elif truth.compared:
            badge = '<span class="badge ok">no divergence</span>'
        else:
            badge = '<span class="badge neutral">nothing compared</span>'
        items.append(f'<li><a href="#s{number}">{_e(section.label)}</a> <span class="pct">{truth.agreeing}/{truth.compared} agree</span>{badge}</li>')
    return f'<nav class="card toc" id="contents"><strong>Programs</strong><ol>{"".join(items)}</ol></nav>'


def _section(section: ReportSection, sid: str) -> str:
    return (
        f'<section class="card program" id="{sid}">'
        f"<h2>{_e(section.label)}</h2>"
        f"{_summary(section, sid)}"
        f'<h3 id="{sid}-code">Code</h3>{_code(section, sid)}'
        f'<h3 id="{sid}-trace">Predicted and real, step by step</h3>{_trace(section, sid)}'
        "</section>"
    )


def _summary(section: ReportSection, sid: str) -> str:
    truth = section.truth
    program = section.program
    rows: list[tuple[str, str]] = [
        ("Program", f"<code>{_e(program.name)}</code>"),
        ("Call", f"<code>{_e(section.call)}</code>" if section.call else "the whole script"),
        ("Model", f"<code>{_e(section.model)}</code>" if section.model else '<span class="none">(unnamed)</span>'),
        ("Steps predicted", str(len(section.steps))),
    ]
    agree = f"{truth.agreeing} of {truth.compared} steps agree"
    what_if = len(truth.rows) - truth.compared
    if what_if:
        agree += f' <span class="none">({_plural(what_if, "what-if step")} after your <code>set</code>, not compared)</span>'
    rows.append(("Agreement", agree))
    if section.first_divergence is not None:
        row = truth.rows[section.first_divergence]
        step = section.steps[row.index]
        line = program.shown(step.lineno)
        where = f"step {row.index + 1}" + (f", line {line}" if line else "")
        diffs = "".join(f"<li>{_e(d)}</li>" for d in row.differences)
        rows.append(("First divergence", f'<a href="#{sid}-first-divergence">{_e(where)}</a><ul class="diffs">{diffs}</ul>'))
    elif section.model_failed:
        rows.append(("First divergence", f"step {len(section.steps) + 1}: the model could not write it ({_e(section.ended or '')})"))
    else:
        rows.append(("First divergence", '<span class="badge ok">no divergence</span>' if truth.compared else '<span class="none">nothing to compare</span>'))
    predicted, real = section.predicted_outcome, section.real_outcome
    if predicted is not None and real is not None:
        verdict = '<span class="badge ok">same</span>' if predicted == real else '<span class="badge bad">different</span>'
    else:
        verdict = ""
    predicted_text = _e(_cut(predicted, VALUE_CHARS)) if predicted is not None else "(none: the prediction did not finish)"
    real_text = _e(_cut(real, VALUE_CHARS)) if real is not None else "(none: the run did not finish)"
    rows.append((
        "Output",
        f'<div><span class="none">predicted</span> <code>{predicted_text}</code>{verdict}</div>'
        f'<div><span class="none">real</span> <code>{real_text}</code></div>',
    ))
    if section.ended == ENDED_COMPLETE:
        ended = "the entry point returned: the whole run is predicted"
    elif section.ended is None:
        ended = "stopped where the session was left (more could be predicted)"
    else:
        ended = section.ended
    rows.append(("Prediction ended", _e(ended)))
    status = _e(truth.status) + (f": {_e(truth.error)}" if truth.error else "")
    status += f' <span class="none">({_plural(len(truth.real_frames), "step")}{", sandbox " + _e(truth.isolation) if truth.isolation else ""})</span>'
    rows.append(("Real run", status))
    body = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    notes = ""
    extra = list(section.notes)
    if section.steps and all(step.confidence is None for step in section.steps):
        extra.append("this model reports no token probabilities: no confidence is shown")
    if extra:
        notes = '<ul class="notes">' + "".join(f"<li>{_e(note)}</li>" for note in extra) + "</ul>"
    return f'<dl class="summary" id="{sid}-summary">{body}</dl>{notes}'


def _code(section: ReportSection, sid: str) -> str:
    program = section.program
    first_line = 0
    if section.first_divergence is not None:
        first_line = section.steps[section.first_divergence].lineno
    out = []
    for lineno, text in enumerate(action_lines(program.context), start=1):
        shown = program.shown(lineno)
        if program.script and shown == 0:
            continue  # the START_OF_TRACE marker line: codewm's, not the user's
        # the `main` wrapper of a function-level program is codewm's too: shown, but dimmed
        wrapper = not program.script and shown > program.source_lines
        classes = "cl first-divergence-line" if lineno == first_line else "cl"
        tx_class = "tx wrapper" if wrapper else "tx"
        tip = ' title="the entry point codewm adds to call your function"' if wrapper else ""
        out.append(f'<div class="{classes}" id="{sid}-L{shown}"{tip}><span class="ln">{shown}</span><span class="{tx_class}">{_e(text.rstrip(chr(10)))}</span></div>')
    return f'<div class="code">{"".join(out)}</div>'


def _trace(section: ReportSection, sid: str) -> str:
    if not section.steps:
        return '<p class="none">No step was predicted.</p>'
    rows = section.truth.rows
    # A truth taken before the session's last motions covers fewer steps: the rest are
    # shown, marked "not compared" (and rows past the steps, after a `set` dropped them, go).
    body = "".join(_row(section, index, rows[index] if index < len(rows) else None, sid) for index in range(len(section.steps)))
    head = '<tr><th class="num">#</th><th class="event">event</th><th class="line">line</th><th>code</th><th>predicted</th><th>real</th><th class="mark"></th></tr>'
    toggle = f'<label class="filter"><input type="checkbox" class="only-diff" id="{sid}-only-diff"> show only the steps that differ from the real run</label>'
    return f'{toggle}<div class="tablewrap"><table class="trace" id="{sid}-steps"><thead>{head}</thead><tbody>{body}</tbody></table></div>'


def _row(section: ReportSection, index: int, row: StepComparison | None, sid: str) -> str:
    program = section.program
    step = section.steps[index]
    first = index == section.first_divergence
    agree = row is not None and row.agree
    what_if = row is not None and row.what_if
    classes = ["step", "agree" if agree else ("differs" if row is not None else "not-compared")]
    if what_if:
        classes.append("what-if")
    if step.skipped_body:
        classes.append("skipped-body")
    if first:
        classes.append("first-divergence")
    row_id = f"{sid}-first-divergence" if first else f"{sid}-step-{index + 1}"

    line = program.shown(step.lineno)
    if line:
        line_cell = f'<a href="#{sid}-L{line}" title="show the line in the code">{line}</a>'
    elif step.lineno:  # a script's call frame is on the START_OF_TRACE marker, codewm's line 0
        line_cell = '<span title="the start of the script">\u2013</span>'
    else:
        line_cell = '<span title="the model wrote a line that is not in the program">?</span>'
    source = step.frame.source.strip() or ("(the script starts)" if step.event == "call" else "")
    # the model's confidence in the line it chose (a return's line is given, not chosen)
    confidence = step.confidence.action if step.confidence is not None and step.event in ("call", "line") else None
    action = f'<span class="pct">{_percent(confidence)}</span>' if confidence is not None else ""
    tip = f"in {step.function} (call depth {step.depth})"
    if confidence is not None:
        tip += f"\nthe model's confidence in this line: {confidence:.4f}"
    src_cell = (
        # indented by call depth, so that nested calls read as nested
        f'<td class="src mono" style="padding-left:{8 + 14 * step.depth}px" title="{_e(tip)}">'
        f'<span class="srctext {_band(confidence) if confidence is not None else "c0"}">{_e(_cut(source, VALUE_CHARS))}</span>{action}</td>'
    )

    tags = []
    if first:
        tags.append('<span class="tag first">first divergence</span>')
    if what_if:
        tags.append('<span class="tag whatif" title="after your set: the real run never had the edited value, so this step is not counted">what if</span>')
    if step.skipped_body:
        tags.append('<span class="tag skip" title="predicted by next without simulating the body of the call">body skipped by next</span>')

    if row is None:
        mark = '<span title="not compared with the real run">\u00b7</span>'
    elif what_if:
        mark = '<span title="what if: not compared">\u2248</span>'
    elif agree:
        mark = '<span title="agrees with the real run">\u2713</span>'
    else:
        mark = '<span title="differs from the real run">\u2717</span>'
    return (
        f'<tr class="{" ".join(classes)}" id="{row_id}" data-step="{index + 1}">'
        f'<td class="num">{index + 1}</td>'
        f'<td class="event">{_e(step.event)}</td>'
        f'<td class="line">{line_cell}</td>'
        f"{src_cell}"
        f'<td class="state predicted">{_predicted_state(section, index)}{"".join(tags)}</td>'
        f'<td class="state real">{_real_state(section, row, step)}</td>'
        f'<td class="mark">{mark}</td>'
        "</tr>"
    )


def _predicted_state(section: ReportSection, index: int) -> str:
    step = section.steps[index]
    frame = step.frame
    conf = step.confidence

    def p(name: str) -> float | None:
        return conf.of(name) if conf is not None and name not in step.edited else None

    if frame.locals is None:
        keyword = "return" if frame.event == "return" else "raise"
        return _value_chip(None, f"{keyword} {frame.value}", p(RETURN_VALUE))
    names = section.changed[index] if index < len(section.changed) else list(frame.locals)
    # an edited name is shown even where the edit put back the value it had
    names = names + [name for name in step.edited if name not in names and name in frame.locals]
    if not names:
        empty = "no arguments" if frame.event == "call" else "no change"
        return f'<span class="none">{empty}</span>'
    return "".join(_value_chip(name, frame.locals[name], p(name), name in step.edited) for name in names)


def _real_state(section: ReportSection, row: StepComparison | None, step: Step) -> str:
    if row is None:
        return '<span class="tag gone">not compared</span>'
    if row.real is None or row.real_index is None:
        return '<span class="tag gone">the real run had ended</span>'
    program = section.program
    real = row.real
    frames = section.truth.real_frames
    parts = []
    if row.skipped_real:
        parts.append(f'<span class="tag skip">{_plural(row.skipped_real, "real step")} skipped</span><br>')
    real_line = program.shown(real.lineno)
    if real.event != step.event or real_line != program.shown(step.lineno) or real.depth != step.depth:
        # say where the real run was, since it is not where the row's columns say
        where = f"{real.event} at line {real_line}" if real_line else f"{real.event}: {real.source.strip()}"
        parts.append(f'<div class="realwhere">{_e(where)}</div>')
    if real.locals is None:
        keyword = "return" if real.event == "return" else "raise"
        parts.append(_real_chip(None, f"{keyword} {real.value}"))
    else:
        # what the real step changed, by the rule of the predicted column (DebugSession.changed)
        names = changed_names(frames, row.real_index)
        # the names the model got wrong, even where the real run did not change them here
        for name in step.frame.locals or {}:
            if name not in names and name in real.locals and real.locals[name] != step.frame.locals[name]:
                names.append(name)
        if names:
            parts.extend(_real_chip(name, real.locals[name]) for name in names)
        else:
            parts.append('<span class="none">' + ("no arguments" if real.event == "call" else "no change") + "</span>")
    if not row.agree and not row.what_if:
        parts.append("".join(f'<div class="diff">{_e(d)}</div>' for d in row.differences))
    return "".join(parts)


__all__ = ["CONFIDENCE_BANDS", "DEFAULT_TITLE", "ReportSection", "render_report", "write_report"]
