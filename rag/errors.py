"""Errors whose messages tell the user what to do. The CLI and the UI translate them at the edge."""


class RagError(Exception):
    """Base class for every error the user should see as one clear line."""


class IndexNotFound(RagError):
    """No index exists where one was expected."""


class IndexCorrupt(RagError):
    """An index exists but its files are missing, truncated or inconsistent."""


class ManifestMismatch(RagError):
    """The index was built with another embedding model or chunker version."""


class ModelMissing(RagError):
    """A model (embedding or LLM) cannot be found or loaded."""


class BadInput(RagError):
    """A question, claim or file that cannot be processed as given."""


class GeneratorError(RagError):
    """An answer generator (LLM server, local model) failed."""


class StoreUnavailable(RagError):
    """The store holding the vectors (a Milvus server) cannot be reached, or its client is not installed."""
