"""A LangChain-standard retriever over the project's own retriever, for use in a user's own LCEL chains.

    from rag.langchain_retriever import RagRetriever
    retriever = RagRetriever.from_index("index/default", k=4)
    docs = retriever.invoke("Why did the Turksib matter?")   # LangChain Documents
    docs[0].metadata["citation"], docs[0].metadata["doc"], docs[0].metadata["start"], docs[0].metadata["end"]

The project itself passes its own records (rag.types) around; this adapter exists only at the edge, for
LangChain users. Each Document's page_content is the passage text and its metadata carry what a citation and
a quote check need: the citation, the file, the character span in the original file, page, section and scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.types import ScoredPassage


def to_document(result: ScoredPassage) -> Document:
    """A search result as a LangChain Document (metadata: citation, doc, start, end, and more)."""
    p = result.passage
    return Document(
        page_content=p.text,
        id=p.passage_id,
        metadata={"citation": p.citation, "doc": p.doc.file, "start": p.start, "end": p.end, "location": p.location,
                  "page": p.page, "page_status": p.page_status, "section": p.section, "title": p.doc.title,
                  "author": p.doc.author, "year": p.doc.year, "passage_id": p.passage_id, "score": result.score,
                  "dense_score": result.dense_score, "bm25_score": result.bm25_score})


class RagRetriever(BaseRetriever):
    """Hybrid search (dense + BM25, fused by rank) over an index, as a langchain_core BaseRetriever.

    engine: a rag.api.Engine (it follows the index on disk: a re-ingest is picked up by the next query).
    k: passages returned; `invoke(query, k=n)` overrides it for one call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Any = Field(description="The rag.api.Engine to search")
    k: int = Field(default=4, description="Passages returned per query")

    @classmethod
    def from_index(cls, index_dir: str | Path | None = None, k: int = 4, settings=None) -> RagRetriever:
        """A retriever over the index at index_dir (default: the settings' index), with its own model."""
        from rag.api import Engine
        from rag.settings import Settings

        settings = settings or Settings()
        if index_dir is not None:
            settings.index_dir = Path(index_dir)
        return cls(engine=Engine(settings), k=k)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        if k <= 0:
            return []
        return [to_document(r) for r in self.engine.search(query, k)]
