"""Loaders: .md, .txt, .html and .pdf become text with the right title, pages and citation facts."""

from __future__ import annotations

import pytest
from conftest import DATA

from rag.errors import BadInput
from rag.loaders import document_info, load_file, read_catalog
from rag.structure import find_running_heads
from rag.text import normalize

DOCS = DATA / "docs"


def passages_of(engine, file):
    found = [p for p in engine.index.passages if p.doc.file == file]
    assert found, f"no passages of {file} in the small index"
    return found


def test_markdown_is_read_as_is_and_uses_the_catalog():
    loaded = load_file(DOCS / "planning.md")
    assert loaded.text == (DOCS / "planning.md").read_text(encoding="utf-8")
    info = document_info(loaded, read_catalog(DOCS))
    assert (info.doc_id, info.title, info.author, info.year) == ("test-planning", "A Short Note on Planning", "Ada Tester", 2020)


def test_catalog_facts_are_used_for_citations(small_engine):
    origins = [p for p in passages_of(small_engine, "planning.md") if "February 1921" in p.text]
    assert len(origins) == 1
    passage = origins[0]
    assert passage.section == "Origins"
    assert passage.citation == "Ada Tester (2020), \u201cA Short Note on Planning\u201d, page unknown, section \u201cOrigins\u201d"


def test_text_file_without_catalog_entry_falls_back_to_the_file_name():
    loaded = load_file(DOCS / "ocr_book.txt")
    info = document_info(loaded, read_catalog(DOCS))
    assert (info.title, info.author, info.year, info.doc_id) == ("ocr_book", "", None, "ocr-book")


def test_text_file_pages_come_from_running_heads(small_engine):
    passages = passages_of(small_engine, "ocr_book.txt")
    heads = find_running_heads(small_engine.index.document_text("ocr_book.txt"))
    assert [h.page for h in heads] == [10, 11, 12, 13, 14, 15]
    assert len(passages) >= 2
    for p in passages:  # a passage is cited by the page it starts on
        assert (p.page, p.page_status) == ([h.page for h in heads if h.start <= p.start][-1], "marked")
    assert not any("Imaginary Author" in p.text or "Imaginary Book Title" in p.text for p in passages)
    assert any("grain collection campaign of 1930" in p.text for p in passages)  # "collec-\n  tion" joined


def test_html_keeps_visible_text_and_title_only():
    loaded = load_file(DOCS / "bread.html")
    assert loaded.title == "Bread Queues in Leningrad"
    text = normalize(loaded.text)
    assert "Rationing of bread was introduced in the cities in 1929." in text
    assert 'The text <script>alert("doc")</script> appears here as words' in text  # escaped markup is content
    for hidden in ("color: red", "hacked", 'alert("x")'):
        assert hidden not in text
    info = document_info(loaded, read_catalog(DOCS))
    assert info.title == "Bread Queues in Leningrad"


def test_html_passages_cite_the_title(small_engine):
    passages = passages_of(small_engine, "bread.html")
    assert all(p.doc.title == "Bread Queues in Leningrad" for p in passages)
    assert not any("hacked" in p.text or "color: red" in p.text for p in passages)


def test_an_html_passage_says_its_offsets_count_the_extracted_text(small_engine):
    """Character 33 of a page's text is not character 33 of its HTML: a citation that gave it bare sent readers to
    the page's markup."""
    html = passages_of(small_engine, "bread.html")[0]
    assert html.location.startswith("bread.html, extracted text, line")
    plain = next(p for p in small_engine.index.passages if p.doc.file.endswith(".txt"))
    assert plain.location.startswith(f"{plain.doc.file}, line") and "extracted" not in plain.location


def test_html_headings_are_the_sections_of_what_follows_them(tmp_path):
    """<h2>The tariff of 1818</h2> names the section of the paragraphs after it, as "## The tariff of 1818" does in
    Markdown: a passage is cited by it, and a claim check reads the sentence with it."""
    from rag.api import Engine
    from rag.ingest import ingest
    from rag.settings import Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "union.html").write_text(
        "<html><head><title>The Customs Union</title></head><body><h1>The <em>Customs</em> Union</h1>"
        "<p>The union joined eighteen states in one market, with one tariff for all of them.</p>"
        "<h2>The Prussian\n tariff of 1818</h2><p>Duties were levied by weight rather than by value, for ease of "
        "collection, so the effective rate on cheap and heavy cloth was well above the nominal one.</p></body></html>",
        encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index")
    ingest([folder], settings, tmp_path / "index")
    passage = next(p for p in Engine(settings).index.passages if "levied by weight" in p.text)
    assert passage.section == "The Prussian tariff of 1818"
    assert "section \u201cThe Prussian tariff of 1818\u201d" in passage.citation


def test_html_headings_of_any_shape_become_heading_lines():
    """A heading broken by <br> or wrapping a block is one heading line; text right after a heading starts a line of
    its own; an empty heading leaves no bare "##"."""
    from rag.loaders import html_to_text

    _, text = html_to_text("<body><h2>Prices<br>and wages</h2>Bare text follows.<h3><div>Notes</div></h3><p>One.</p>"
                           "<h2> </h2><h4><img src='x.png'></h4><p>Two.</p></body>")
    assert text.split("\n\n") == ["## Prices and wages", "Bare text follows.", "### Notes", "One.", "Two."]


def test_pdf_text_layer_and_real_page_numbers():
    loaded = load_file(DOCS / "turksib.pdf")
    assert loaded.encoding == "pdf"
    assert [page for _, page in loaded.page_starts] == [1, 2]
    second = loaded.page_starts[1][0]
    assert "begun in 1927" in loaded.text[:second]
    assert loaded.text[second:].startswith("Chapter 2 The opening of the line")
    assert "joined near Aina-Bulak in April 1930" in loaded.text[second:]
    assert (loaded.title, loaded.author) == ("The Turksib Railway", "Tess Pdfwriter")


def test_pdf_passages_carry_marked_pages_and_metadata(small_engine):
    passages = passages_of(small_engine, "turksib.pdf")
    page_one = [p for p in passages if "begun in 1927" in p.text]
    page_two = [p for p in passages if "Aina-Bulak" in p.text]
    assert page_one and all((p.page, p.page_status) == (1, "marked") for p in page_one)
    assert page_two and all((p.page, p.page_status) == (2, "marked") for p in page_two)
    assert page_two[0].citation == ("Tess Pdfwriter, \u201cThe Turksib Railway\u201d, p. 2, "
                                    "section \u201cChapter 2 The opening of the line\u201d")


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("notes.docx", b"PK\x03\x04", "unsupported file type .docx"),
    ("empty.txt", b"  \n", "file is empty"),
    ("fake.pdf", b"%PDF-1.4 not really", "unreadable PDF"),
    ("front.md", b'---\ntitle: "Only front matter"\nauthor: Nobody\ndate: 2020-01-01\n---\n', "file has no text"),
])
def test_unusable_files_give_a_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(BadInput, match=reason):
        load_file(path)


def test_html_facts_come_from_citation_and_author_meta_tags(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<html><head><title>Site | Page</title><meta name="citation_title" content="Grain and the State">'
                    '<meta name="citation_author" content="Ann Field"><meta name="citation_author" content="Bo Reaper">'
                    '<meta name="citation_publication_date" content="1999/04/01"></head><body><p>Text.</p></body></html>')
    loaded = load_file(page)
    assert (loaded.title, loaded.author, loaded.year) == ("Grain and the State", "Ann Field and Bo Reaper", 1999)
    plain = tmp_path / "plain.html"
    plain.write_text('<html><head><title>Bread Queues</title><meta name="author" content="Cy Baker"></head><body>x</body></html>')
    info = document_info(load_file(plain), {})
    assert (info.title, info.author, info.year) == ("Bread Queues", "Cy Baker", None)


def test_pdf_facts_include_the_year_of_its_creation_date(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(DOCS / "turksib.pdf"))
    writer.add_metadata({"/CreationDate": "D:19920315120000"})
    path = tmp_path / "dated.pdf"
    writer.write(path)
    loaded = load_file(path)
    assert (loaded.title, loaded.author, loaded.year) == ("The Turksib Railway", "Tess Pdfwriter", 1992)


@pytest.mark.parametrize(("name", "text", "facts"), [
    ("front.md", '---\ntitle: "On Grain"\nauthor: [Ann Field, Bo Reaper]\ndate: 2001-05-03\n---\n\n# Chapter\n\nText.',
     ("On Grain", "Ann Field and Bo Reaper", 2001)),
    ("heading.md", "Some words first.\n\n## Part one\n\n# The Real Title\n\nText.", ("The Real Title", "", None)),
    ("header.txt", "\n\nTitle\tThe Sovnarkhoz Reform\nAuthor(s)\tHa, Yong Chool\nIssue Date\t1996\n\nText.",
     ("The Sovnarkhoz Reform", "Ha, Yong Chool", 1996)),
    ("titled.txt", "Grain and the Peasants\n\nIn 1928 the procurements fell.", ("Grain and the Peasants", "", None)),
    ("runon.txt", "This second volume of the\nhistory makes clear that", ("runon", "", None)),
    ("sentence.txt", "The peasants resisted the requisitions.\n\nMore.", ("sentence", "", None)),
    ("head.txt", "Class Struggles in the USSR 95\n\nThe text.", ("head", "", None)),
])
def test_text_facts_come_from_front_matter_heading_or_first_line(tmp_path, name, text, facts):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    info = document_info(load_file(path), {})
    assert (info.title, info.author, info.year) == facts


def test_catalog_wins_over_what_the_file_says(tmp_path):
    path = tmp_path / "front.md"
    path.write_text("---\ntitle: File Title\nauthor: File Author\nyear: 2001\n---\n\nText.", encoding="utf-8")
    info = document_info(load_file(path), {"front.md": {"title": "Catalog Title", "year": 1990}})
    assert (info.title, info.author, info.year) == ("Catalog Title", "File Author", 1990)


NOTES_MD = ("---\ntitle: Notes on the Kuznetsk Steel Works\nauthor: Oleg Markdown\nyear: 2005\n# a YAML comment\n---\n\n"
            "# Kuznetsk Steel Works\n\nThe Kuznetsk steel works fired its first blast furnace in April 1932. Around 20,000 "
            "workers were employed at the site in 1933.\n")


def test_markdown_front_matter_is_facts_not_text(tmp_path):
    """YAML front matter gives the title, author and year; it is in no passage, sentence or quotation, and what is
    indexed still points at the file's own characters."""
    from rag.chunking import chunk_document, parse_document
    from rag.quotes import locate
    from rag.settings import ChunkingSettings

    path = tmp_path / "notes.md"
    path.write_text(NOTES_MD, encoding="utf-8")
    loaded = load_file(path)
    info = document_info(loaded, {})
    assert (info.title, info.author, info.year) == ("Notes on the Kuznetsk Steel Works", "Oleg Markdown", 2005)
    passages, sentences = chunk_document(parse_document(loaded, info), lambda texts: [len(t.split()) for t in texts],
                                         ChunkingSettings())
    assert [p.text for p in passages] == [("# Kuznetsk Steel Works\n\nThe Kuznetsk steel works fired its first blast furnace "
                                           "in April 1932. Around 20,000 workers were employed at the site in 1933.")]
    assert passages[0].section == "Kuznetsk Steel Works" and passages[0].line_start == 8
    assert sentences[0].text == "# Kuznetsk Steel Works"
    for unit in (*passages, *sentences):
        assert normalize(NOTES_MD[unit.start : unit.end]) == normalize(unit.text)
    assert locate("Notes on the Kuznetsk Steel Works", NOTES_MD) is None
    assert locate("author: Oleg Markdown year: 2005", NOTES_MD) is None
    found = locate("fired its first blast furnace", NOTES_MD)
    assert NOTES_MD[found.start : found.end] == "fired its first blast furnace"


@pytest.mark.parametrize("text", ["---\n\nA rule, then prose.\n\n---\n\nMore prose.", "---\nJust a line\n---\nText.",
                                  "Prose first.\n---\ntitle: x\n---\n", "---\ntitle: never closed\n\nText.",
                                  "---\nChapter 1: The Plan\n\n## After the crisis\n\nProcurements fell by a third.\n---\nMore.",
                                  "---\ntitle: x\n" + "tag: y\n" * 45 + "---\nText."])
def test_only_a_yaml_block_opening_the_text_is_front_matter(text):
    from rag.structure import find_front_matter

    assert find_front_matter(text) is None
