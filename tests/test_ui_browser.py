"""The chat app in a real browser: Debian's Chromium, headless, driven by Playwright, against app.py
serving a copy of the default index. Screenshots go to artifacts/ui/; the chat and sources ones are
also copied to docs/ for the README."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rag.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = PROJECT_ROOT / "artifacts" / "ui"
DOCS = PROJECT_ROOT / "docs"
ANSWER_TIMEOUT_MS = 120_000  # answers take a few seconds; much longer when the machine is busy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(`apt-get install chromium`, done by `make setup-test`); browser tests need it"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def dialogs() -> list[str]:
    """Messages of every alert/confirm/prompt the page opened: markup in a document must never run."""
    return []


@pytest.fixture(scope="module")
def page(browser, ui_app, dialogs):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(ui_app.url)
    pg.locator("#question textarea").wait_for()
    yield pg
    pg.close()


def ask(page, question: str, n: int) -> str:
    """Ask in the chat and wait for the n-th answer to be final; returns its text."""
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    bot = page.locator("#chat [data-testid='bot']")
    page.wait_for_function(
        """(n) => { const m = document.querySelectorAll("#chat [data-testid='bot']");
                    return m.length >= n && !m[n - 1].innerText.includes('Searching the documents')
                           && !m[n - 1].innerText.includes('checking quotations'); }""",
        arg=n, timeout=ANSWER_TIMEOUT_MS)
    return bot.nth(n - 1).inner_text()


def new_conversation(page) -> None:
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_function("document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")


def upload(page, path: Path) -> str:
    """Add a file through the Library tab; returns the ingest report."""
    page.get_by_role("tab", name="Library").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#upload").get_by_text(path.name).first.wait_for()
    before = page.locator("#ingest-log textarea").input_value()
    page.locator("#add").click()
    page.wait_for_function("(before) => document.querySelector('#ingest-log textarea').value !== before",
                           arg=before, timeout=ANSWER_TIMEOUT_MS)
    return page.locator("#ingest-log textarea").input_value()


def library_search(page, query: str) -> str:
    """Search in the Library tab; waits for new results (the old ones stay on screen while a search runs)."""
    before = page.locator("#lib-results").inner_text()
    page.locator("#lib-query textarea").fill(query)
    page.locator("#lib-query textarea").press("Enter")
    page.wait_for_function(
        """(before) => { const el = document.querySelector('#lib-results');
                         const status = el.querySelector("[data-testid='status-tracker']");
                         return el.innerText !== before && (!status || status.classList.contains('hide')); }""",
        arg=before, timeout=ANSWER_TIMEOUT_MS)
    return page.locator("#lib-results").inner_text()


def test_question_gets_a_cited_answer_and_its_source_opens_highlighted(page, dialogs):
    new_conversation(page)
    answer = ask(page, "What were the sovnarkhozy supposed to do?", 1)
    assert "[1]" in answer and "References" in answer
    assert "\u201c" in answer  # the quotations are shown as quotations
    first = page.locator("#citations label").first
    assert first.inner_text().startswith("[1] ")
    page.screenshot(path=str(SHOTS / "chat.png"))
    shutil.copyfile(SHOTS / "chat.png", DOCS / "chat.png")

    # click the last citation: the sources panel shows that quotation highlighted in its context
    labels = page.locator("#citations label")
    last = labels.nth(labels.count() - 1)
    number = re.match(r"\[(\d+)\]", last.inner_text()).group(1)
    last.click()
    page.wait_for_function("(n) => document.querySelector('#sources .rag-cite').innerText.startsWith('[' + n + ']')",
                           arg=number)
    marked = page.locator("#sources mark").inner_text()
    assert len(marked.split()) >= 3
    quoted = re.findall(r"\u201c(.+?)\u201d \[(\d+)\]", answer, re.DOTALL)
    assert any(" ".join(q.split()) == " ".join(marked.split()) and n == number for q, n in quoted)
    context = page.locator("#sources .rag-context").inner_text()
    assert len(context) > len(marked) + 100  # the surrounding text is there, not just the quote
    assert re.search(r"\.txt, lines? \d+", page.locator("#sources .rag-loc").inner_text())
    top, bottom = page.locator("#citations").bounding_box(), page.locator("#sources").bounding_box()
    page.screenshot(path=str(SHOTS / "sources.png"), full_page=True,
                    clip={"x": top["x"], "y": top["y"], "width": top["width"], "height": bottom["y"] + bottom["height"] - top["y"]})
    shutil.copyfile(SHOTS / "sources.png", DOCS / "sources.png")

    # a passage retrieved but not quoted opens too
    page.locator("#others label").first.click()
    page.wait_for_function("document.querySelector('#sources .rag-cite').innerText.startsWith('Retrieved passage')")
    assert "Export" in page.locator("#export").inner_text()
    assert "**References**" in page.locator("#export textarea").input_value()
    assert dialogs == []


def test_follow_up_is_read_with_the_conversation(page):
    new_conversation(page)
    ask(page, "What were the sovnarkhozy supposed to do?", 1)
    follow_up = ask(page, "Who opposed them?", 2)
    assert "Searched as:" in follow_up and "sovnarkhozy" in follow_up  # the follow-up was made to stand alone
    assert "[1]" in follow_up or "don't answer" in follow_up
    assert page.locator("#chat [data-testid='user']").count() == 2
    page.screenshot(path=str(SHOTS / "follow_up.png"))


def test_uploaded_file_is_searchable_at_once_and_can_be_removed(page, tmp_path):
    doc = tmp_path / "kolkhoz_bees.md"
    doc.write_text("# Beekeeping on the Kolkhoz\n\nIn 1934 the Krasny Pchelovod collective farm kept four hundred "
                   "hives of grey mountain bees and sold their buckwheat honey to the Kursk cooperative store.\n")
    report = upload(page, doc)
    assert "1 indexed" in report
    assert "kolkhoz_bees.md" in page.locator("#library").inner_text()
    found = library_search(page, "buckwheat honey from grey mountain bees")
    assert "Beekeeping on the Kolkhoz" in found.splitlines()[0]
    page.screenshot(path=str(SHOTS / "library.png"))

    page.locator("#remove-choice input").click()
    page.locator("#remove-choice input").fill("kolkhoz_bees")
    page.get_by_role("option", name=re.compile("kolkhoz_bees.md")).click()
    page.locator("#remove").click()
    page.wait_for_function("document.querySelector('#ingest-log textarea').value.includes('removed: kolkhoz_bees.md')",
                           timeout=ANSWER_TIMEOUT_MS)
    assert "kolkhoz_bees.md" not in page.locator("#library").inner_text()
    assert "Beekeeping" not in library_search(page, "buckwheat honey from grey mountain bees")


def test_claim_check_shows_a_verdict_with_its_quotations(page, dialogs):
    page.get_by_role("tab", name="Verify a claim").click()
    page.locator("#claim textarea").fill("The sovnarkhoz reform was adopted by the Supreme Soviet in May 1957.")
    page.locator("#verify").click()
    page.wait_for_function("document.querySelector('#verdict h3') !== null", timeout=ANSWER_TIMEOUT_MS)
    verdict = page.locator("#verdict").inner_text()
    assert verdict.splitlines()[0] in {"Supported", "Refuted", "Not in the documents"}
    if not verdict.startswith("Not in"):
        assert "[1]" in verdict and "\u201c" in verdict
    page.screenshot(path=str(SHOTS / "verify.png"))
    assert dialogs == []


def test_markup_in_documents_and_questions_is_shown_as_text(page, dialogs, tmp_path):
    script = '<script>alert("xss-doc")</script>'
    image = "<img src=x onerror=alert('xss-img')>"
    doc = tmp_path / "ration_note.txt"
    doc.write_text(f"Notes from a Leningrad bread shop, 1932.\n\nThe ration card notice pinned to the door read {script} "
                   f"and the bread shop stayed shut for three days in March 1932.\n\nA second notice said {image} about "
                   "flour deliveries to the bakery on the Nevsky Prospekt being cut by half.\n")
    assert "1 indexed" in upload(page, doc)
    found = library_search(page, "ration card notice pinned to the door of the bread shop")
    assert script in found and image in found
    assert page.locator("#lib-results script, #lib-results img").count() == 0

    new_conversation(page)
    answer = ask(page, f"{image} What did the ration card notice on the bread shop door read?", 1)
    user = page.locator("#chat [data-testid='user']").first.inner_text()
    assert image in user  # the question is shown as typed, not rendered
    assert script in answer
    page.locator("#citations label").first.click()
    assert script in page.locator("#sources").inner_text()
    assert page.locator("#chat script, #chat img[src=x], #sources script").count() == 0
    page.screenshot(path=str(SHOTS / "markup_as_text.png"))
    assert dialogs == []


def test_a_failing_generator_shows_an_error_and_the_session_goes_on(page):
    new_conversation(page)
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("openai").check()
    page.get_by_text("OpenAI-compatible server").click()
    url = page.locator("#openai-url textarea")
    url.wait_for(state="visible")
    url.fill("http://127.0.0.1:9/v1")  # nothing listens on the discard port
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill("What were the sovnarkhozy supposed to do?")
    page.locator("#ask").click()
    toast = page.get_by_text(re.compile("OpenAI-compatible server at http://127.0.0.1:9/v1"))
    toast.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.screenshot(path=str(SHOTS / "generator_error.png"))
    assert page.locator("#chat [data-testid='bot']").count() == 0  # the failed turn is not left half-done

    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("extractive").check()
    assert "[1]" in ask(page, "What were the sovnarkhozy supposed to do?", 1)
