"""The HTML report in a real browser (headless Chromium through playwright): what a person
opening the file sees, whether anything on it runs, and whether it fetches anything.

Chromium is a system package: `bash scripts/install-system-packages` installs it. This test
fails (it does not skip) where it is missing, so that a machine without it is noticed.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codewm.debugger.report import write_report
from debugger_helpers import WRONG_INDEX
from test_html_report import HOSTILE_CALL, HOSTILE_SOURCE, HOSTILE_VALUE, LIE_CONFIDENCE, oracle_session, section, skip_session, wrong_session

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HINT = "run `bash scripts/install-system-packages` (it installs Debian's chromium) and `pip install -e '.[test]'` (playwright)"


def chromium_path() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.fail(f"chromium is not installed: the report's browser test needs it; {INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed; {INSTALL_HINT}", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory, oracle, sandbox):
    """A page with three sections: a model wrong at a known step, an oracle run of a program
    full of markup, and an oracle run stepped over a call with `next`."""
    wrong = wrong_session(oracle, sandbox)
    hostile = oracle_session(oracle, sandbox, HOSTILE_SOURCE, HOSTILE_CALL, "greet.py")
    skip = skip_session(oracle, sandbox)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, [section(wrong), section(hostile), section(skip)], title="codewm report test")
    return path, [wrong, hostile, skip]


@dataclass
class Loaded:
    """A loaded page, and what it did while loading."""

    page: object
    requests: list[str] = field(default_factory=list)  # every URL it asked for
    failed: list[str] = field(default_factory=list)  # those that failed
    errors: list[str] = field(default_factory=list)  # JavaScript errors


@pytest.fixture
def loaded(browser, report):
    """The report, loaded from its file:// URL, with every request the page made recorded.
    JavaScript is on (as in any browser): the hostile texts must not get to run."""
    path, _ = report
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, java_script_enabled=True)
    page = context.new_page()
    out = Loaded(page)
    page.on("request", lambda request: out.requests.append(request.url))
    page.on("requestfailed", lambda request: out.failed.append(request.url))
    page.on("pageerror", lambda error: out.errors.append(str(error)))
    page.goto(path.as_uri(), wait_until="load")
    yield out
    context.close()


def test_the_page_shows_the_code_the_steps_and_the_first_divergence(loaded, report, tmp_path):
    page = loaded.page
    _, (wrong, hostile, skip) = report
    assert page.title() == "codewm report test"
    assert page.locator("h1").inner_text() == "codewm report test"
    # the table of contents links each section
    assert page.locator("nav.toc a").count() == 3

    s0 = page.locator("#s0")
    assert s0.locator(".code").is_visible()
    assert "z = y + 1" in s0.locator(".code").inner_text()
    assert s0.locator("tr.step").count() == len(wrong.steps)
    assert page.locator("#s1 tr.step").count() == len(hostile.steps)
    assert page.locator("#s2 tr.step").count() == len(skip.steps)

    # the summary's link takes the reader to the first divergence's row
    link = s0.locator('a[href="#s0-first-divergence"]')
    assert link.inner_text() == f"step {WRONG_INDEX + 1}, line 3"
    link.click()
    first = page.locator("#s0-first-divergence")
    assert first.is_visible() and first.get_attribute("data-step") == str(WRONG_INDEX + 1)
    assert first.locator("td.num").inner_text() == str(WRONG_INDEX + 1)
    assert "y: predicted 7, real 6" in first.inner_text()
    assert page.evaluate("location.hash") == "#s0-first-divergence"
    # its highlight: a background of its own, unlike an agreeing row's
    background = "el => getComputedStyle(el).backgroundColor"
    first_bg = first.locator("td.num").evaluate(background)
    agree_bg = s0.locator("tr.step.agree td.num").first.evaluate(background)
    assert first_bg != agree_bg, (first_bg, agree_bg)
    assert first_bg not in ("rgba(0, 0, 0, 0)", "transparent")
    # the line of the code it happened on is highlighted too
    line = s0.locator(".code .first-divergence-line")
    assert line.count() == 1 and "z = y + 1" in line.inner_text()
    assert line.evaluate(background) != s0.locator(".code .cl").first.evaluate(background)

    # confidences, as percentages; the unsure value is shaded more than a sure one
    assert f"{LIE_CONFIDENCE:.0%}" in first.locator("td.predicted").inner_text()
    sure = s0.locator("tr.step.agree td.predicted .val.c0").first
    unsure = first.locator("td.predicted .val").first
    assert "100%" in sure.inner_text()
    assert unsure.evaluate(background) != sure.evaluate(background)

    # `next` over a call: labelled, with the real steps it skipped
    skipped = page.locator("#s2 tr.skipped-body")
    assert skipped.count() == 1 and "body skipped by next" in skipped.inner_text()
    assert "real steps skipped" in skipped.inner_text()

    # "show only the steps that differ" hides the agreeing rows (CSS only, no script)
    page.locator("#s0-only-diff").check()
    assert s0.locator("tr.step:visible").count() == 1
    assert page.locator("#s2 tr.step:visible").count() == len(skip.steps)  # other sections unchanged

    shot = tmp_path / "report.png"
    page.locator("#s0").screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 600 and height > 400 and len(data) > 20_000, (width, height, len(data))


def test_hostile_text_is_shown_literally_and_nothing_runs(loaded):
    page = loaded.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    s1 = page.locator("#s1")
    # the value, the comment in the code: shown as the text they are
    assert HOSTILE_VALUE in s1.locator("table.trace").inner_text()
    assert "<script>window.__pwned = 2</script>" in s1.locator(".code").inner_text()
    assert "no divergence" in s1.locator("dl.summary").inner_text()
    assert not loaded.errors


def test_the_page_fetches_nothing(loaded):
    assert loaded.requests, "the page itself was not requested?"
    assert all(url.startswith("file://") for url in loaded.requests), loaded.requests
    assert not loaded.failed, loaded.failed
