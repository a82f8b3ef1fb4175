"""WordNet, for what names mean: the other names of a person, place or body, and the places within a place
("the Quakers" are "the Society of Friends"; "American" is of "America"; London is in Britain).

The database is Debian's `wordnet-base` package (`make setup` installs it), read by nltk (once per process: 2.6 s,
80 MB). nltk wants it in an `nltk_data/corpora/wordnet` folder with a `lexnames` file, which Debian does not ship, so
the files are copied once into the user's cache (28 MB) with that list. Without the package, `names_for` knows no
other names, and a claim check takes a name the source does not use for a different one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

from rag.text import STOP_WORDS

DEBIAN_WORDNET = Path("/usr/share/wordnet")
FILES = ("data.adj", "data.adv", "data.noun", "data.verb", "index.adj", "index.adv", "index.noun", "index.verb",
         "adj.exc", "adv.exc", "noun.exc", "verb.exc")
# WordNet 3.0's lexicographer files, in their numbered order (the standard `lexnames` file)
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
    "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
    "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
    "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
PART_DEPTH = 2  # United Kingdom -> England -> London

log = logging.getLogger(__name__)
_lock = threading.Lock()
_NOT_LOADED = object()
_reader = _NOT_LOADED


def data_root(source: Path = DEBIAN_WORDNET) -> Path | None:
    """An nltk data folder holding corpora/wordnet, made once from the Debian files, or None without them."""
    from rag.embed import default_cache_dir

    if not all((source / name).exists() for name in FILES):
        return None
    root = default_cache_dir() / "nltk_data"
    folder = root / "corpora" / "wordnet"
    if not (folder / "lexnames").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            made = Path(tmp) / "wordnet"
            made.mkdir()
            for name in FILES:  # copies: nltk refuses files reached through a link out of its folder
                shutil.copyfile(source / name, made / name)
            (made / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}\n"
                                               for i, name in enumerate(LEXNAMES)))
            if not (folder / "lexnames").exists():  # else another process has just made it: its copy is as good
                shutil.rmtree(folder, ignore_errors=True)  # an incomplete copy left by a killed process
                with contextlib.suppress(OSError):
                    os.replace(made, folder)
    return root


def wordnet():
    """nltk's WordNet reader, loaded once per process (app.py starts it in the background), or None when
    the database is not installed."""
    global _reader
    with _lock:
        if _reader is _NOT_LOADED:
            try:
                _reader = _load()
            except (OSError, ValueError, LookupError) as e:  # a damaged copy in the cache: do without, and say so
                log.warning("WordNet could not be read (%s: %s); claim checks go on without it", type(e).__name__, e)
                _reader = None
        return _reader


def _load():
    root = data_root()
    if root is None:
        log.warning("WordNet is not installed (Debian package wordnet-base): "
                    "claim checks will not know that two names can mean the same place or body")
        return None
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            """No mapping to other WordNet versions (for other languages' wordnets): it reads the sense index at
            load, for 3x the load time and 4x the memory (8 s, 350 MB)."""

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    with warnings.catch_warnings():  # "the multilingual functions are not available": none are used
        warnings.simplefilter("ignore", UserWarning)
        return EnglishWordNet(str(root / "corpora" / "wordnet"), None)


@functools.lru_cache(maxsize=4096)
def names_for(word: str) -> frozenset[str]:
    """Lower-case names that, in a source, say what `word` says in a claim: its other names ("quakers": "society of
    friends"), for an adjective those of the noun it is formed from ("american": "america", "united states"), and the
    places within what it names ("britain": "england", "london"), since what happened in London happened in Britain.
    Not the other way round: a source's "Britain" does not say "London". Multi-word names are kept whole."""
    wn = wordnet()
    if wn is None:
        return frozenset()
    synsets = set(wn.synsets(word))
    synsets |= {p.synset() for s in list(synsets) for lemma in s.lemmas() for p in lemma.pertainyms()}
    found, layer = set(synsets), synsets
    for _ in range(PART_DEPTH):
        layer = {part for s in layer for part in s.part_meronyms()}
        found |= layer
    names = {lemma.replace("_", " ").lower() for s in found for lemma in s.lemma_names()}
    return frozenset(n for n in names if len(n) > 2 and n not in STOP_WORDS and n != word)
