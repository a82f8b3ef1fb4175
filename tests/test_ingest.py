"""Ingest: every passage maps back to the file as shipped; the index updates only what changed."""

from __future__ import annotations

import re
import shutil
from itertools import pairwise

import numpy as np
import pytest
from conftest import CORPUS, DATA

from rag.cli import main as rag_main
from rag.embed import base_model_path
from rag.errors import ManifestMismatch
from rag.ingest import collect_files, ingest, remove_documents
from rag.settings import ChunkingSettings, Settings
from rag.store import embedding_text, load_index
from rag.structure import find_running_heads
from rag.text import normalize

OCR_BOOKS = ("003_a33086497c1aed1f.txt", "004_5cad5f07bf79d1b6.txt")
ARTICLES_WITHOUT_PAGES = ("001_5df7ae714c181bd2.txt", "002_016a9ac6361687e5.txt")


# --- the whole bundled corpus -------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_index(corpus_engine):
    return corpus_engine.index


def test_index_holds_every_corpus_file_as_shipped(corpus_index):
    shipped = sorted(p.name for p in CORPUS.glob("*.txt"))
    assert sorted(corpus_index.manifest["files"]) == shipped
    for name in shipped:
        assert corpus_index.document_text(name) == (CORPUS / name).read_text(encoding="utf-8")


def without_heads(original: str, heads: list[tuple[int, int]], start: int, end: int) -> str:
    """original[start:end] with the running heads inside it taken out."""
    pieces, pos = [], start
    for a, b in heads:
        if a < end and b > start:
            pieces.append(original[pos:max(a, pos)])
            pos = max(pos, b)
    pieces.append(original[pos:end])
    return "".join(pieces)


def test_every_passage_span_normalizes_to_its_text(corpus_index):
    """The recorded span, with removed running heads taken out, is the passage (eval normalization)."""
    by_file: dict[str, list] = {}
    for p in corpus_index.passages:
        by_file.setdefault(p.doc.file, []).append(p)
    for name, passages in by_file.items():
        original = corpus_index.document_text(name)
        heads = [(h.start, h.end) for h in find_running_heads(original)]
        for p in passages:
            assert 0 <= p.start < p.end <= len(original)
            assert normalize(without_heads(original, heads, p.start, p.end)) == normalize(p.text), f"{p.location}: span and text differ"


def test_every_passage_is_made_of_its_indexed_sentences(corpus_index):
    """Index.sentences_in gives a passage's sentences, each with its span in the file and a unit vector."""
    heads = {name: [(h.start, h.end) for h in find_running_heads(corpus_index.document_text(name))]
             for name in corpus_index.manifest["files"]}
    for p in corpus_index.passages[::5]:
        sentences = corpus_index.sentences_in(p.doc.file, p.start, p.end)
        assert sentences[0].start == p.start and sentences[-1].end == p.end, p.location
        assert normalize(" ".join(s.text for s in sentences)) == normalize(p.text), p.location
        original = corpus_index.document_text(p.doc.file)
        for s in sentences:
            assert s.text in p.text and s.file == p.doc.file
            assert normalize(without_heads(original, heads[s.file], s.start, s.end)) == normalize(s.text), p.location
    vectors = corpus_index.sentence_embeddings
    assert len(corpus_index.sentences) == vectors.shape[0] > len(corpus_index.passages)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_a_note_marker_ends_a_sentence(corpus_index):
    """"...in March.<sup>1</sup> However, ..." is two sentences, as "...in March.1 However, ..." is: each can be
    quoted, and embedded, alone."""
    from rag.chunking import split_sentences
    from rag.text import breaks_off

    text = "It was set out in March.<sup>1</sup> However, it met resistance.\u00b2 Malenkov opposed it.3 He lost."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "It was set out in March.<sup>1</sup>", "However, it met resistance.\u00b2", "Malenkov opposed it.3", "He lost."]
    upper = "It was set out in March.<SUP>1</SUP> However, it met resistance."  # HTML tags in capitals, as old pages have
    assert [upper[a:b] for a, b in split_sentences(upper)] == ["It was set out in March.<SUP>1</SUP>", "However, it met resistance."]
    assert not breaks_off("It was set out in March.<SUP>1</SUP>") and breaks_off("It was set out in<SUP>1</SUP>")
    marked = [s.text for s in corpus_index.sentences if "</sup>" in s.text]
    assert marked and not [s for s in marked if re.search(r"</sup>\s+[A-Z]", s)]


def test_a_sentence_vector_matches_a_question_about_that_sentence(corpus_engine):
    """Sentence vectors live in the question space: a question on one sentence finds it among its passage's."""
    index, embedder = corpus_engine.index, corpus_engine.embedder
    found = 0
    passages = [p for p in index.passages[::97] if len(index.sentences_in(p.doc.file, p.start, p.end)) >= 4]
    for p in passages:
        sentences = index.sentences_in(p.doc.file, p.start, p.end)
        target = max(sentences, key=lambda s: len(s.text))
        scores = [float(s.vector @ embedder.embed_query(target.text)) for s in sentences]
        found += sentences[int(np.argmax(scores))] == target
    assert found >= 0.8 * len(passages), f"{found} of {len(passages)}"


def test_no_passage_is_truncated_by_the_model(corpus_index, embedder):
    counts = embedder.count_tokens([embedding_text(p) for p in corpus_index.passages])
    longest = max(counts)
    assert longest <= embedder.max_seq_length == 256, f"a passage of {longest} tokens would be truncated"
    assert min(counts) > 2  # [CLS] text [SEP]: no empty passage


def test_line_spans_match_char_spans(corpus_index):
    for p in corpus_index.passages:
        original = corpus_index.document_text(p.doc.file)
        assert p.line_start == original.count("\n", 0, p.start) + 1
        assert p.line_end == original.count("\n", 0, p.end - 1) + 1


def test_ocr_books_have_page_markers_and_articles_say_page_unknown(corpus_index):
    for name in OCR_BOOKS:
        heads = find_running_heads(corpus_index.document_text(name))
        assert len(heads) >= 5, f"{name}: running heads not found"
        passages = corpus_index.passages_of(name)
        assert all(p.page is not None and p.page_status in ("marked", "estimated") for p in passages), name
        # pages rise through the book
        pages = [p.page for p in sorted(passages, key=lambda p: p.start)]
        assert sum(b >= a for a, b in pairwise(pages)) >= 0.95 * (len(pages) - 1)
    for name in ARTICLES_WITHOUT_PAGES:
        assert all(p.page_label == "page unknown" for p in corpus_index.passages_of(name)), name


def test_no_running_head_remains_in_passage_text(corpus_index):
    for name in OCR_BOOKS:
        original = corpus_index.document_text(name)
        head_lines = {normalize(original[h.start : h.end]) for h in find_running_heads(original)}
        if name == OCR_BOOKS[1]:
            assert {"20 Charles Bettelheim", "Class Struggles in the USSR 95", "Class Struggles in the USSR 12 7"} <= head_lines
        for p in corpus_index.passages_of(name):
            assert not any(head in p.text for head in head_lines), p.location
    number = r"\d(?: ?\d){0,3}"  # OCR splits some page numbers: "12 7"
    pattern = re.compile(rf"\b{number} Charles Bettelheim\b|Class Struggles in the USSR {number}\b")
    assert not [p.location for p in corpus_index.passages if pattern.search(p.text)]


# --- the embedding model ------------------------------------------------------------------------

def test_embeddings_agree_with_the_fp32_model_and_queries_match_documents(corpus_engine):
    """The fast backend stays close to sentence-transformers in fp32; queries use the same backend and model."""
    from sentence_transformers import SentenceTransformer

    corpus_index, embedder = corpus_engine.index, corpus_engine.embedder
    own_model = corpus_index.model_dir or base_model_path(corpus_engine.settings.embedding)  # adapted or as shipped
    assert embedder.path == own_model, "the engine should embed questions with the index's own model"

    texts = [embedding_text(p) for p in corpus_index.passages[::400]]
    reference = SentenceTransformer(str(embedder.path), device="cpu", local_files_only=True)
    exact = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    ours = embedder.embed_documents(texts)
    assert ours.shape == exact.shape and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert (ours * exact).sum(axis=1).min() > 0.975  # torch's per-tensor int8 falls to about 0.91 here
    # int8 activations are scaled per batch, so a text's vector moves a little with its batch-mates
    # (cosine about 0.99); the other backend's vectors would be further off (about 0.92)
    stored = corpus_index.embeddings[::400]
    assert (stored * ours).sum(axis=1).min() > 0.975, "the index was built with another backend than queries use"
    assert min(float(embedder.embed_query(t) @ v) for t, v in zip(texts, ours)) > 0.975


def test_a_span_vector_is_pooled_from_its_own_tokens(embedder):
    """Late chunking: each sentence's vector comes from its own tokens in the passage's run, so it is
    closer to that sentence alone than to its neighbour."""
    first = "The harvest of 1927 was poor in the Volga region."
    second = "Steel output at Magnitogorsk doubled within three years."
    text = f"  {first} {second}"  # leading spaces: offsets count in the text as given
    spans = [(2, 2 + len(first)), (3 + len(first), len(text))]
    _, (pooled,) = embedder.embed_with_spans([text], [spans])
    alone = embedder.embed_documents([first, second])
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-4), "a span inside the window got no vector"
    assert pooled[0] @ alone[0] > pooled[0] @ alone[1]
    assert pooled[1] @ alone[1] > pooled[1] @ alone[0]


# --- a small index that changes -----------------------------------------------------------------

@pytest.fixture()
def docs(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(DATA / "docs", folder)
    return folder


def rows_by_id(index) -> dict[str, bytes]:
    return {p.passage_id: index.embeddings[i].tobytes() for i, p in enumerate(index.passages)}


def test_incremental_ingest(docs, tmp_path, embedder):
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir)
    first = ingest([docs], settings, index_dir, embedder)
    assert not first.skipped and first.changed
    assert sorted(first.indexed) == ["bread.html", "ocr_book.txt", "planning.md", "turksib.pdf"]
    assert first.embedded == first.passages > 0
    before = load_index(index_dir, settings)

    again = ingest([docs], settings, index_dir, embedder)
    assert (again.changed, again.embedded, again.indexed, again.removed) == (False, 0, [], [])
    assert sorted(again.unchanged) == sorted(first.indexed)
    assert load_index(index_dir, settings).generation == before.generation

    with open(docs / "planning.md", "a", encoding="utf-8") as f:
        f.write("\n## Results\n\nThe first five-year plan was declared fulfilled in four years and three months.\n")
    edited = ingest([docs], settings, index_dir, embedder)
    after = load_index(index_dir, settings)
    planning = after.passages_of("planning.md")
    assert edited.indexed == ["planning.md"] and edited.changed
    assert edited.embedded == len(planning)
    assert any("four years and three months" in p.text for p in planning)
    old_rows, new_rows = rows_by_id(before), rows_by_id(after)
    others = [p.passage_id for p in before.passages if p.doc.file != "planning.md"]
    assert others and all(new_rows[pid] == old_rows[pid] for pid in others)
    for name in ("bread.html", "ocr_book.txt"):  # unchanged files keep their sentences and vectors
        (old_sentences, old_vectors), (new_sentences, new_vectors) = before.sentences_of(name), after.sentences_of(name)
        assert old_sentences == new_sentences and np.array_equal(old_vectors, new_vectors)
    added = after.sentences_of("planning.md")[0][-1]
    assert added.text.endswith("four years and three months.") and added.start > 0

    (docs / "bread.html").unlink()
    removed = ingest([docs], settings, index_dir, embedder)
    final = load_index(index_dir, settings)
    assert removed.removed == ["bread.html"] and removed.embedded == 0
    assert not final.passages_of("bread.html") and "bread.html" not in final.manifest["files"]
    assert len(final.passages) == final.embeddings.shape[0] == final.faiss_index.ntotal == removed.passages
    assert not final.sentences_of("bread.html")[0] and len(final.sentences) == final.sentence_embeddings.shape[0]
    assert {s.file for s in final.sentences} == set(final.manifest["files"])


def test_an_answer_says_when_a_cited_file_changed_after_indexing(docs, tmp_path, embedder):
    """Quotations are verified against the indexed text; once the file is edited, its lines and characters may no
    longer be where the citation says, and the answer says so."""
    from rag.api import Engine
    from rag.chain import answer

    settings = Settings(index_dir=tmp_path / "index")
    settings.answer.mode = "fast"
    ingest([docs], settings, settings.index_dir, embedder)
    engine = Engine(settings, embedder=embedder)
    question = "When was the State Planning Commission created and what did it replace?"
    before = answer(engine, question)
    assert before.quotes[0].doc == "planning.md" and "changed after it was indexed" not in before.text
    source = docs / "planning.md"
    source.write_text("A line added at the top.\n" + source.read_text(encoding="utf-8"), encoding="utf-8")
    after = answer(engine, question)
    assert after.quotes == before.quotes  # still verbatim from the indexed text
    assert re.search(r"planning\\?\.md changed after it was indexed", after.text)  # the name as Markdown shows it
    assert engine.index.changed_sources(["planning.md", "ocr_book.txt"]) == ["planning.md"]
    source.unlink()  # gone, or not reachable from here (the index moved to another machine): nothing is known of it
    assert engine.index.changed_sources(["planning.md"]) == []


def test_folder_sidecars_are_not_documents(tmp_path):
    """A corpus folder's catalog.toml and eval items.jsonl are read by other tools, not ingested or reported."""
    for name in ("a.txt", "catalog.toml", "items.jsonl", "notes.docx", ".hidden.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    files, problems = collect_files([tmp_path])
    assert [f.name for f in files] == ["a.txt", "notes.docx"] and problems == []


def test_index_of_another_chunker_version_says_how_to_rebuild(small_index_dir):
    other = Settings(index_dir=small_index_dir, chunking=ChunkingSettings(version="other"))
    with pytest.raises(ManifestMismatch) as caught:
        load_index(small_index_dir, other)
    message = str(caught.value)
    assert "rag ingest" in message and "--rebuild" in message and "chunker_version" in message


def test_cli_ingest_prints_a_summary(docs, tmp_path, capsys):
    index_dir = tmp_path / "cli-index"
    assert rag_main(["ingest", str(docs), "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert f"index: {index_dir}" in out
    assert "files: 4 in index (4 indexed, 0 unchanged, 0 removed, 0 skipped)" in out
    assert re.search(r"^passages: (\d+) \(\1 embedded\)$", out, re.MULTILINE)
    assert re.search(r"^time: [\d.]+ s \(cleaning [\d.]+ s, embedding [\d.]+ s, indexing [\d.]+ s\)$", out, re.MULTILINE)

    assert rag_main(["ingest", str(docs), str(tmp_path / "missing"), "--index", str(index_dir)]) == 1
    out = capsys.readouterr().out
    assert "files: 4 in index (0 indexed, 4 unchanged, 0 removed, 1 skipped)" in out
    assert "nothing changed; the index was left as it was" in out
    assert f"skipped: {tmp_path / 'missing'}: no such file or folder" in out


@pytest.mark.parametrize("what", ["a missing path", "an empty folder", "a folder of skipped files"])
def test_ingest_of_nothing_into_a_new_index_is_one_error_line(what, tmp_path, capsys):
    source = tmp_path / "documents"
    if what != "a missing path":
        source.mkdir()
    if what == "a folder of skipped files":
        (source / "empty.txt").write_bytes(b"")
        (source / "notes.docx").write_bytes(b"PK")
    index_dir = tmp_path / "index"
    assert rag_main(["ingest", str(source), "--index", str(index_dir)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    expected = {"a missing path": f"{source}: no such file or folder",
                "an empty folder": f"no documents in {source}",
                "a folder of skipped files": f"{source / 'empty.txt'}: file is empty (and 1 more skipped)"}[what]
    assert err[-1].startswith(f"error: nothing to index: {expected}"), err
    assert not index_dir.exists()  # no half-written generation, no empty index


@pytest.mark.parametrize("index", ["afile", "afile/index"])
def test_an_index_path_that_is_a_file_is_one_error_line(index, docs, tmp_path, capsys):
    (tmp_path / "afile").write_text("not an index", encoding="utf-8")
    assert rag_main(["ingest", str(docs), "--index", str(tmp_path / index)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    expected = {"afile": f"error: {tmp_path / 'afile'} is a file, not an index folder",
                "afile/index": f"error: cannot make the index folder {tmp_path / index}: {tmp_path / 'afile'} is a file"}
    assert err[-1] == expected[index], err
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "not an index"


def test_an_index_whose_documents_are_all_removed_is_written_empty(docs, tmp_path, embedder):
    """Ingest and `remove_documents` may empty an index: that is removing documents, not a mistake."""
    index_dir, folder = tmp_path / "index", tmp_path / "one"
    settings = Settings(index_dir=index_dir)
    folder.mkdir()
    shutil.copy(docs / "planning.md", folder)
    ingest([folder], settings, index_dir, embedder)
    (folder / "planning.md").unlink()
    report = ingest([folder], settings, index_dir, embedder)
    assert report.removed == ["planning.md"] and report.files == 0 and not report.failed
    index = load_index(index_dir, settings)
    assert index.passages == [] and index.manifest["files"] == {} and index.searcher.size == 0

    ingest([DATA / "docs" / "planning.md"], settings, index_dir, embedder)
    assert remove_documents(["planning.md"], settings, index_dir).removed == ["planning.md"]
    assert load_index(index_dir, settings).passages == []
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("gen-")] == [load_index(index_dir, settings).generation.name]


def test_a_failed_write_leaves_no_partial_generation(docs, tmp_path, embedder, monkeypatch):
    import rag.store

    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir)
    ingest([docs / "planning.md"], settings, index_dir, embedder)
    before = load_index(index_dir, settings).generation

    def disk_full(folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rag.store, "_fsync_tree", disk_full)
    with pytest.raises(OSError, match="No space left"):
        ingest([docs], settings, index_dir, embedder)
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(["CURRENT", before.name])
    assert load_index(index_dir, settings).generation == before


def test_a_file_named_like_a_document_from_another_folder_does_not_replace_it(tmp_path, embedder):
    """Documents are keyed by file name: another folder's notes.md is refused while the indexed one's file exists,
    and updates it once that file is gone (its folder moved or renamed)."""
    index_dir, first, second = tmp_path / "index", tmp_path / "first", tmp_path / "second"
    settings = Settings(index_dir=index_dir)
    for folder, words in ((first, "The grain quota of 1930 was raised twice."), (second, "Bread queues grew in Leningrad.")):
        folder.mkdir()
        (folder / "notes.md").write_text(f"# Notes\n\n{words}\n", encoding="utf-8")
    ingest([first], settings, index_dir, embedder)

    report = ingest([second], settings, index_dir, embedder)
    assert report.indexed == [] and report.failed
    why = f"another file named notes.md is already in the index, from {first / 'notes.md'}; rename one of them"
    assert report.skipped == [(str(second / "notes.md"), why)]
    index = load_index(index_dir, settings)
    assert "grain quota" in index.document_text("notes.md")
    assert index.manifest["files"]["notes.md"]["source"] == str((first / "notes.md").resolve())

    moved = first.rename(tmp_path / "moved")
    (moved / "notes.md").write_text("# Notes\n\nThe grain quota of 1930 was raised three times.\n", encoding="utf-8")
    report = ingest([moved], settings, index_dir, embedder)
    assert report.indexed == ["notes.md"] and not report.failed
    index = load_index(index_dir, settings)
    assert "three times" in index.document_text("notes.md")
    assert index.manifest["files"]["notes.md"]["source"] == str((moved / "notes.md").resolve())


def test_metadata_edits_are_applied_at_once_and_survive_re_ingest(docs, tmp_path, embedder):
    from rag.api import Engine
    from rag.errors import BadInput

    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir)
    ingest([docs], settings, index_dir, embedder)
    engine = Engine(settings, embedder=embedder)
    rows = rows_by_id(engine.index)

    info = engine.edit_document("bread.html", title="Bread Queues in Leningrad, 1929", author="Dee Historian", year="1994")
    assert (info.title, info.author, info.year) == ("Bread Queues in Leningrad, 1929", "Dee Historian", 1994)
    assert all(p.doc == info for p in engine.index.passages_of("bread.html"))
    assert engine.search("bread queues rationing", k=1)[0].passage.citation.startswith("Dee Historian (1994)")
    assert rows_by_id(engine.index) == rows  # the vectors are kept, not made again

    with open(docs / "bread.html", "a", encoding="utf-8") as f:  # changed content: re-chunked on ingest
        f.write("<p>Ration cards for meat followed in 1930.</p>")
    ingest([docs], settings, index_dir, embedder)
    ingest([docs], settings, index_dir, embedder, rebuild=True)
    kept = load_index(index_dir, settings).passages_of("bread.html")
    assert any("meat" in p.text for p in kept) and all(p.doc == info for p in kept)

    engine.reload()
    back = engine.edit_document("bread.html", title="", year="")  # dropping an edit brings back what the file says
    assert (back.title, back.author, back.year) == ("Bread Queues in Leningrad", "Dee Historian", None)
    with pytest.raises(BadInput, match="year must be a number"):
        engine.edit_document("bread.html", year="nineteen")
    with pytest.raises(BadInput, match="not in the library"):
        engine.edit_document("missing.txt", title="X")
