"""The conversations of one browser, kept in its localStorage (gr.BrowserState) so a reload or a
restart of the app loses nothing. Each is a list of Answers; one is open at a time."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, ValidationError

from rag.types import Answer

MAX_CONVERSATIONS = 30  # older ones are dropped: localStorage holds about 5 MB per site
TITLE_CHARS = 60


class Conversation(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12], description="Stable id within the browser")
    answers: list[Answer] = Field(default_factory=list, description="The turns, oldest first")

    @property
    def title(self) -> str:
        """The first question, cut at a word."""
        if not self.answers:
            return "New conversation"
        q = " ".join(self.answers[0].question.split())
        return q if len(q) <= TITLE_CHARS else q[: q.rfind(" ", 0, TITLE_CHARS)] + "\u2026"

    def history(self) -> list[tuple[str, str]]:
        """(question, answer text) pairs, as the chain reads a conversation."""
        return [(a.question, a.text) for a in self.answers]


class Conversations(BaseModel):
    """Every conversation of one browser, most recent first; `active` is the open one."""

    active: str = ""
    items: list[Conversation] = Field(default_factory=list)

    @classmethod
    def from_browser(cls, raw: object) -> Conversations:
        """What the browser stored; an unreadable value (another version's shape) starts afresh."""
        try:
            store = cls.model_validate(_restore_passage_texts(raw)) if raw else cls()
        except (ValidationError, AttributeError, TypeError):
            return cls()
        return store

    def to_browser(self) -> dict:
        """The JSON kept in localStorage. Passage texts are left out (the index has them): a tenth of the size."""
        return self.model_dump(mode="json", exclude={"items": {"__all__": {"answers": {"__all__": {
            "passages": {"__all__": {"passage": {"text"}}}}}}}})

    def current(self) -> Conversation:
        """The open conversation (an empty one if none is open)."""
        found = next((c for c in self.items if c.id == self.active), None)
        return found or (Conversation(id=self.active) if self.active else Conversation())

    def with_answer(self, answer: Answer) -> Conversations:
        """The store after the open conversation gains an answer (it moves to the top)."""
        conv = self.current()
        conv = conv.model_copy(update={"answers": [*conv.answers, answer]})
        rest = [c for c in self.items if c.id != conv.id]
        return Conversations(active=conv.id, items=[conv, *rest][:MAX_CONVERSATIONS])

    def started(self) -> Conversations:
        """The store with a new, empty conversation open (it is listed once it has an answer)."""
        return Conversations(active=uuid.uuid4().hex[:12], items=self.items)

    def opened(self, conv_id: str) -> Conversations:
        return Conversations(active=conv_id, items=self.items)

    def without(self, conv_id: str) -> Conversations:
        """The store with a conversation deleted; the next one opens."""
        rest = [c for c in self.items if c.id != conv_id]
        return Conversations(active=rest[0].id if rest else "", items=rest)

    def choices(self) -> list[tuple[str, str]]:
        """(title, id) of each conversation with answers, for the list on screen."""
        return [(c.title, c.id) for c in self.items if c.answers]


def _restore_passage_texts(raw: dict) -> dict:
    """The stored shape with the passage texts that to_browser left out put back as "" (only offsets are used)."""
    for conv in raw.get("items", []):
        for answer in conv.get("answers", []):
            for sp in answer.get("passages", []):
                sp["passage"].setdefault("text", "")
    return raw
