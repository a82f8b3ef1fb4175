"""The chat app in a real browser: Debian's Chromium, headless, driven by Playwright, against app.py
serving a copy of the default index. Every request the page makes is watched: one to another host
fails the tests. Screenshots go to artifacts/ui/; those the README shows are also copied to docs/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from rag.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = PROJECT_ROOT / "artifacts" / "ui"
DOCS = PROJECT_ROOT / "docs"
ANSWER_TIMEOUT_MS = 120_000  # answers take a few seconds; much longer when the machine is busy
HA_QUESTION = "What were the sovnarkhozy supposed to do?"  # answered from the Ha article (corpus/000_*)
TAG_TEXT = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>")
LOCAL_HOSTS = {"127.0.0.1", "localhost", ""}

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
def foreign_requests() -> list[str]:
    """URLs the page asked for on a host other than this machine (each was blocked)."""
    return []


@pytest.fixture(scope="module")
def context(browser, dialogs, foreign_requests):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)

    def guard(route):
        if urlparse(route.request.url).hostname not in LOCAL_HOSTS and not route.request.url.startswith(("data:", "blob:")):
            foreign_requests.append(route.request.url)
            return route.abort()
        return route.continue_()

    ctx.route("**/*", guard)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def page(context, ui_app, dialogs, foreign_requests):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg = context.new_page()
    pg.set_default_timeout(ANSWER_TIMEOUT_MS)  # on a busy machine even a click or a reload can take over 30 s
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(ui_app.url)
    pg.locator("#question textarea").wait_for()
    yield pg
    pg.close()
    assert foreign_requests == []  # nothing the page did in any test reached another host


def bot_messages(page):
    return page.locator("#chat [data-testid='bot']")


def wait_for_answers(page, n: int) -> None:
    page.wait_for_function(
        """(n) => { const m = document.querySelectorAll("#chat [data-testid='bot']");
                    return m.length >= n && !m[n - 1].innerText.includes('Searching the documents')
                           && !m[n - 1].innerText.includes('checking quotations')
                           && document.querySelector('#chat .pending') === null; }""",
        arg=n, timeout=ANSWER_TIMEOUT_MS)


def ask(page, question: str, n: int) -> str:
    """Ask in the chat and wait for the n-th answer to be final; returns its text."""
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    wait_for_answers(page, n)
    page.wait_for_function("(n) => document.querySelectorAll('#conversations label').length > 0 || n === 0", arg=n)
    return bot_messages(page).nth(n - 1).inner_text()


def new_conversation(page) -> None:
    page.get_by_role("tab", name="Chat").click()
    page.locator("#new-conv").click()
    page.wait_for_function("document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")


def open_inline_citation(page, turn: int, n: int) -> str:
    """Click the [n] in answer `turn` (0-based); returns the highlighted text in the sources panel."""
    page.locator(f"#chat a[href='#cite-{turn}-{n}']").first.click()
    page.wait_for_function("(n) => document.querySelector('#sources .rag-cite').innerText.startsWith('[' + n + ']')",
                           arg=n, timeout=ANSWER_TIMEOUT_MS)
    return page.locator("#sources mark").first.inner_text()


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
    page.get_by_role("tab", name="Library").click()
    before = page.locator("#lib-results").inner_text()
    page.locator("#lib-query textarea").fill(query)
    page.locator("#lib-query textarea").press("Enter")
    page.wait_for_function(
        """(before) => { const el = document.querySelector('#lib-results');
                         const status = el.querySelector("[data-testid='status-tracker']");
                         return el.innerText !== before && (!status || status.classList.contains('hide')); }""",
        arg=before, timeout=ANSWER_TIMEOUT_MS)
    return page.locator("#lib-results").inner_text()


def quotations(answer: str) -> list[tuple[str, str]]:
    """(quoted text, number) pairs of an answer as shown."""
    return re.findall(r"\u201c(.+?)\u201d \[(\d+)\]", answer, re.DOTALL)


def test_inline_citation_opens_its_quotation_highlighted(page, dialogs):
    new_conversation(page)
    answer = ask(page, HA_QUESTION, 1)
    quoted = quotations(answer)
    assert quoted and "References" in answer
    assert page.locator("#citations label").first.inner_text().startswith("[1] ")
    page.screenshot(path=str(SHOTS / "chat.png"))
    shutil.copyfile(SHOTS / "chat.png", DOCS / "chat.png")

    # the last [n] in the answer text: the sources panel shows that quotation highlighted in its context
    text, number = quoted[-1]
    marked = open_inline_citation(page, 0, int(number))
    assert " ".join(marked.split()) == " ".join(text.split())
    assert page.locator("#citations input:checked").evaluate("el => el.parentElement.innerText").startswith(f"[{number}]")
    context = page.locator("#sources .rag-context").inner_text()
    assert len(context) > len(marked) + 100  # the surrounding text is there, not just the quote
    assert re.search(r"\.txt, lines? \d+", page.locator("#sources .rag-loc").inner_text())
    top, bottom = page.locator("#citations").bounding_box(), page.locator("#sources").bounding_box()
    page.screenshot(path=str(SHOTS / "sources.png"), full_page=True,
                    clip={"x": top["x"], "y": top["y"], "width": top["width"], "height": bottom["y"] + bottom["height"] - top["y"]})
    shutil.copyfile(SHOTS / "sources.png", DOCS / "sources.png")

    # readable names: no file names in the answer or the lists, and passages of one work told apart
    others = page.locator("#others label").all_inner_texts()
    assert others and len(set(others)) == len(others)
    assert ".txt" not in answer and not any(".txt" in label for label in others)
    page.locator("#others label").first.click()
    page.wait_for_function("document.querySelector('#sources .rag-cite').innerText.startsWith('Retrieved passage')")
    assert dialogs == []


def test_no_tag_text_in_an_answer_from_the_ha_article_or_its_sources(page):
    new_conversation(page)
    answer = ask(page, "What did the obkom first secretaries say about the sovnarkhoz reform?", 1)
    assert "Ha (1996)" in answer
    shown = [answer]
    for label in range(page.locator("#citations label").count()):
        page.locator("#citations label").nth(label).click()
        page.wait_for_function("(n) => document.querySelector('#sources .rag-cite').innerText.startsWith('[' + n + ']')",
                               arg=label + 1)
        shown.append(page.locator("#sources").inner_text())
    for label in range(page.locator("#others label").count()):
        before = page.locator("#sources .rag-cite").inner_text()
        page.locator("#others label").nth(label).click()
        page.wait_for_function("(b) => document.querySelector('#sources .rag-cite').innerText !== b", arg=before)
        shown.append(page.locator("#sources").inner_text())
    assert len(shown) >= 4
    for text in shown:
        assert not TAG_TEXT.search(text), TAG_TEXT.search(text).group()
        assert "**" not in text and "###" not in text


def test_a_reload_keeps_the_conversations(page):
    new_conversation(page)
    first = ask(page, HA_QUESTION, 1)
    follow_up = ask(page, "Who opposed them?", 2)
    assert "Searched as:" in follow_up and "sovnarkhoz" in follow_up.lower()  # the follow-up was made to stand alone
    page.screenshot(path=str(SHOTS / "follow_up.png"))
    titles = page.locator("#conversations label").all_inner_texts()
    page.reload()
    page.locator("#question textarea").wait_for()
    wait_for_answers(page, 2)
    assert bot_messages(page).nth(0).inner_text() == first
    assert page.locator("#conversations label").all_inner_texts() == titles
    assert len(titles) >= 2  # the conversations of the earlier tests are listed too

    # the older conversations open from the list, and the inline citations work there too
    page.locator("#conversations label").nth(1).click()
    page.wait_for_function("(first) => document.querySelector(\"#chat [data-testid='bot']\").innerText !== first", arg=first)
    assert quotations(bot_messages(page).nth(0).inner_text())
    open_inline_citation(page, 0, 1)


def test_export_downloads_markdown_and_bibtex_of_the_cited_works(page, ui_app):
    import bibtexparser

    from rag.settings import Settings
    from rag.store import load_index

    new_conversation(page)
    ask(page, HA_QUESTION, 1)
    ask(page, "How big was the Communist Party's central apparatus at the start of 1930?", 2)
    files = {}
    for button, suffix in (("#export-md", ".md"), ("#export-bib", ".bib"), ("#export-ris", ".ris")):
        with page.expect_download() as download:
            page.locator(button).click()
        path = download.value.path()
        assert download.value.suggested_filename.endswith(suffix)
        files[suffix] = Path(path).read_text(encoding="utf-8")
    markdown = files[".md"]
    assert f"## {HA_QUESTION}" in markdown and "## References" in markdown and "[1]" in markdown
    index = load_index(ui_app.index_dir, Settings(index_dir=ui_app.index_dir))
    cited = set(re.findall(r"(\d{3}_[0-9a-f]{16}\.txt), line", markdown))
    works = {p.doc.title for p in index.passages if p.doc.file in cited}
    entries = bibtexparser.parse_string(files[".bib"]).entries
    assert len(works) >= 2 and {e.fields_dict["title"].value for e in entries} == works
    assert files[".ris"].count("TY  - ") == len(works)


def test_a_remote_image_in_a_question_is_never_fetched(page, foreign_requests):
    new_conversation(page)
    question = "![x](http://198.51.100.7/a.png) What were the sovnarkhozy supposed to do?"
    ask(page, question, 1)
    user = page.locator("#chat [data-testid='user']").first
    assert "![x](http://198.51.100.7/a.png)" in user.inner_text()  # shown as typed
    assert page.locator("#chat img[src*='198.51.100.7']").count() == 0
    page.wait_for_timeout(500)  # a fetch would have been tried by now
    assert not [u for u in foreign_requests if "198.51.100.7" in u]
    assert foreign_requests == []


def test_uploaded_html_shows_its_own_title_and_is_searchable(page, tmp_path):
    doc = tmp_path / "field_notes_7.html"
    doc.write_text("<html><head><title>Grain Procurement in the Kuban, 1932</title></head><body>"
                   "<p>In the autumn of 1932 the brigades of the Kuban collected grain from the stanitsas at night, and "
                   "the collective farm chairmen hid seed in church cellars.</p></body></html>")
    assert "1 indexed" in upload(page, doc)
    table = page.locator("#library").inner_text()
    assert "Grain Procurement in the Kuban, 1932" in table and "field_notes_7.html" in table
    found = library_search(page, "brigades collected grain from the stanitsas at night")
    assert "Grain Procurement in the Kuban" in found.splitlines()[0]
    assert page.locator("#lib-results details").count() >= 1  # long results are cut, the rest a click away
    page.screenshot(path=str(SHOTS / "library.png"))
    shutil.copyfile(SHOTS / "library.png", DOCS / "library.png")


def test_a_corrected_author_is_saved_and_kept_when_the_file_is_added_again(page, tmp_path):
    page.get_by_role("tab", name="Library").click()
    row = page.locator("#library [role=row]", has_text="field_notes_7.html").first
    author = row.locator("[role=gridcell]").nth(1)
    author.dblclick()
    editor = author.locator("textarea, input").first
    editor.fill("Anna Kuznetsova")
    editor.press("Enter")
    page.locator("#save-meta").click()
    page.wait_for_function("document.querySelector('#ingest-log textarea').value.includes('saved corrections to: field_notes_7.html')",
                           timeout=ANSWER_TIMEOUT_MS)
    assert "Anna Kuznetsova" in page.locator("#library [role=row]", has_text="field_notes_7.html").first.inner_text()

    changed = tmp_path / "field_notes_7.html"  # the same file, changed: it is read and indexed again
    changed.write_text("<html><head><title>Grain Procurement in the Kuban, 1932</title></head><body><p>In the autumn "
                       "of 1932 the brigades of the Kuban collected grain from the stanitsas at night.</p></body></html>")
    assert "1 indexed" in upload(page, changed)
    assert "Anna Kuznetsova" in page.locator("#library [role=row]", has_text="field_notes_7.html").first.inner_text()
    assert "Kuznetsova" in library_search(page, "brigades collected grain from the stanitsas at night").splitlines()[0]


def test_uploaded_file_is_searchable_at_once_and_can_be_removed(page, tmp_path):
    doc = tmp_path / "kolkhoz_bees.md"
    doc.write_text("# Beekeeping on the Kolkhoz\n\nIn 1934 the Krasny Pchelovod collective farm kept four hundred "
                   "hives of grey mountain bees and sold their buckwheat honey to the Kursk cooperative store.\n")
    report = upload(page, doc)
    assert "1 indexed" in report
    assert "kolkhoz_bees.md" in page.locator("#library").inner_text()
    found = library_search(page, "buckwheat honey from grey mountain bees")
    assert "Beekeeping on the Kolkhoz" in found.splitlines()[0]

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


def test_markup_in_documents_and_questions_never_runs_and_is_not_shown_as_tags(page, dialogs, tmp_path):
    script = '<script>alert("xss-doc")</script>'
    image = "<img src=x onerror=alert('xss-img')>"
    doc = tmp_path / "ration_note.txt"
    doc.write_text(f"Notes from a Leningrad bread shop, 1932.\n\nThe ration card notice pinned to the door read {script} "
                   f"and the bread shop stayed shut for three days in March 1932.\n\nA second notice said {image} about "
                   "flour deliveries to the bakery on the Nevsky Prospekt being cut by half.\n")
    assert "1 indexed" in upload(page, doc)
    found = library_search(page, "ration card notice pinned to the door of the bread shop")
    assert "bread shop stayed shut" in found and not TAG_TEXT.search(found)
    assert page.locator("#lib-results script, #lib-results img").count() == 0

    new_conversation(page)
    answer = ask(page, f"{image} What did the ration card notice on the bread shop door read?", 1)
    user = page.locator("#chat [data-testid='user']").first.inner_text()
    assert image in user  # the question is shown as typed, not rendered
    assert "notice pinned to the door" in answer and not TAG_TEXT.search(answer)
    page.locator("#citations label").first.click()
    assert "bread shop" in page.locator("#sources").inner_text()
    assert page.locator("#chat script, #chat img[src=x], #sources script, #sources img").count() == 0
    page.screenshot(path=str(SHOTS / "markup_as_text.png"))
    assert dialogs == []


def test_settings_test_the_connection_and_errors_name_the_field(page):
    new_conversation(page)
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("openai").check()
    page.get_by_text("OpenAI-compatible server").click()
    url = page.locator("#openai-url textarea")
    url.wait_for(state="visible")
    url.fill("http://127.0.0.1:9/v1")  # nothing listens on the discard port
    page.locator("#test-openai").click()
    status = page.locator("#openai-status")
    page.wait_for_function("document.querySelector('#openai-status').innerText.includes('Cannot connect')",
                           timeout=ANSWER_TIMEOUT_MS)
    assert "Base URL (Settings \u203a OpenAI-compatible server)" in status.inner_text()
    page.screenshot(path=str(SHOTS / "settings.png"))

    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill(HA_QUESTION)
    page.locator("#ask").click()
    toast = page.get_by_text(re.compile("OpenAI-compatible server at http://127.0.0.1:9/v1"))
    toast.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "Base URL (Settings" in toast.first.inner_text() and "RAG_ANSWER" not in toast.first.inner_text()
    page.screenshot(path=str(SHOTS / "generator_error.png"))
    assert bot_messages(page).count() == 0  # the failed turn is not left half-done

    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("extractive").check()
    assert "[1]" in ask(page, HA_QUESTION, 1)
