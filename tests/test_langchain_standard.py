"""The LangChain adapter: LangChain's own standard retriever tests, then what our metadata promise adds."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.langchain_retriever import RagRetriever
from rag.text import normalize


# LangChain's own packages run pytest-asyncio in auto mode; this suite does not, so the standard async test is marked
# here (the standard tests may not be overridden)
@pytest.mark.asyncio
class TestRagRetrieverStandard(RetrieversIntegrationTests):
    """langchain-tests' RetrieversIntegrationTests over the index of tests/data/docs."""

    engine = None

    @pytest.fixture(autouse=True)
    def _small_engine(self, small_engine):
        type(self).engine = small_engine

    @property
    def retriever_constructor(self) -> type[RagRetriever]:
        return RagRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"engine": self.engine, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "When was the State Planning Commission created?"


def test_documents_carry_what_a_citation_and_a_quote_check_need(small_engine):
    docs = RagRetriever(engine=small_engine, k=3).invoke("When was the State Planning Commission created?")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert "February 1921" in top.page_content
    assert top.metadata["doc"] == "planning.md" and "Ada Tester (2020)" in top.metadata["citation"]
    for d in docs:  # the span names the passage's text in the document as indexed
        original = small_engine.index.document_text(d.metadata["doc"])
        assert 0 <= d.metadata["start"] < d.metadata["end"] <= len(original)
        assert normalize(d.page_content)[:40] in normalize(original[d.metadata["start"] : d.metadata["end"]])
    expected = [r.passage.passage_id for r in small_engine.search("When was the State Planning Commission created?", 3)]
    assert [d.id for d in docs] == expected, "the same ranking as the project's retriever"


def test_it_runs_in_a_users_own_lcel_chain(small_engine):
    """The README's example: retriever | format with citations | prompt | chat model | parser (a fake chat model)."""
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    def cite(docs: list[Document]) -> str:
        return "\n\n".join(f"[{d.metadata['citation']}] {d.page_content}" for d in docs)

    prompt = ChatPromptTemplate.from_template("Answer from these sources, citing them:\n{context}\n\nQuestion: {question}")
    seen: list = []
    model = FakeListChatModel(responses=["In February 1921 [1]."])
    chain = ({"context": RagRetriever(engine=small_engine, k=2) | cite, "question": RunnablePassthrough()}
             | prompt | (lambda value: seen.append(value) or value) | model | StrOutputParser())
    assert chain.invoke("When was the State Planning Commission created?") == "In February 1921 [1]."
    shown = seen[0].to_string()
    assert "Ada Tester (2020)" in shown and "February 1921" in shown
