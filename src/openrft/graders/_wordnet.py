"""WordNet 3.0 for METEOR, read from the system's WordNet database; never ``nltk.download``.

NLTK's METEOR matches synonyms through a :class:`~nltk.corpus.reader.wordnet.WordNetCorpusReader`.
NLTK normally loads it from ``nltk_data/corpora/wordnet``, which only ``nltk.download`` provides.
Instead this module reads the WordNet 3.0 database that Debian's ``wordnet-base`` package
installs in ``/usr/share/wordnet`` (``apt-get install -y wordnet-base``). That is the same
Princeton WordNet 3.0 that ``nltk.download("wordnet")`` fetches (117,659 synsets), so METEOR's
synonym matches are the same.

Three differences from an ``nltk_data`` folder are bridged by a small reader subclass:

- Debian's package has no ``lexnames`` file (the lexicographer-file names, which the reader
  parses at start-up). Its 45 lines are fixed by WordNet 3.0 and documented in ``lexnames(5WN)``;
  they are built in here and served in place of the file when the folder has none.
- NLTK maps another WordNet version onto 3.0 for the multilingual (OMW) functions by loading
  ``nltk_data``'s own wordnet; this *is* 3.0 and METEOR uses English only, so no mapping is made
  and no OMW data is needed.
- NLTK 3.10's path sandbox (``nltk.pathsec``) only opens files under ``nltk.data.path``; the
  WordNet folder is registered there, which is how NLTK documents authorising a corpus kept
  elsewhere.

The folder searched is ``$WNSEARCHDIR`` (WordNet's own variable for its database folder), then
``/usr/share/wordnet``. Loading takes about 1.5 s and is done once per process. The reader is
made safe to share between threads: NLTK reads synsets by seeking one shared file handle.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path
from typing import IO, Any

from nltk.corpus.reader.wordnet import WordNetCorpusReader

from openrft.errors import BackendUnavailable

DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
INSTALL_HINT = "install Debian's WordNet 3.0 database with `apt-get install -y wordnet-base`"

LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)  # fmt: skip
"""WordNet 3.0's lexicographer files, in file-number order (``lexnames(5WN)``)."""

_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_REQUIRED_FILES = tuple(
    f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")
)


def lexnames_text() -> str:
    """The ``lexnames`` file: ``NN<TAB>name<TAB>category`` per line, as WordNet 3.0 ships it."""
    return "".join(
        f"{number:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n"
        for number, name in enumerate(LEXNAMES)
    )


class SystemWordNetReader(WordNetCorpusReader):
    """A WordNet 3.0 reader over a plain WordNet ``dict`` folder (no ``nltk_data`` layout)."""

    def __init__(self, root: Path):
        self._has_lexnames = (root / "lexnames").is_file()
        self._read_lock = threading.RLock()
        with warnings.catch_warnings():
            # No OMW reader is given (METEOR is English-only); NLTK warns about that.
            warnings.filterwarnings("ignore", message="The multilingual functions", category=UserWarning)
            super().__init__(str(root), None)

    def open(self, file: str) -> IO[Any]:
        if file == "lexnames" and not self._has_lexnames:
            return io.StringIO(lexnames_text())
        return super().open(file)

    def map_wn(self, version: str = "wordnet") -> None:
        """No mapping: this database is WordNet 3.0, the version NLTK maps everything onto."""
        return None

    def synset_from_pos_and_offset(self, pos: str, offset: int) -> Any:
        cached = self._synset_offset_cache[pos].get(offset)
        if cached is not None:
            return cached
        with self._read_lock:  # seek + readline on a shared handle
            return super().synset_from_pos_and_offset(pos, offset)


def find_wordnet_dir() -> Path | None:
    """The first folder holding a WordNet database: ``$WNSEARCHDIR``, then ``/usr/share/wordnet``."""
    candidates = [Path(p) for p in (os.environ.get("WNSEARCHDIR"),) if p] + [DEFAULT_WORDNET_DIR]
    for folder in candidates:
        if all((folder / name).is_file() for name in _REQUIRED_FILES):
            return folder.resolve()
    return None


def _authorise(folder: Path) -> None:
    """Let NLTK's path sandbox open files in ``folder`` (it allows ``nltk.data.path`` roots)."""
    import nltk.data

    if str(folder) not in map(str, nltk.data.path):
        nltk.data.path.append(str(folder))


_lock = threading.Lock()
_reader: SystemWordNetReader | None = None


def wordnet() -> SystemWordNetReader:
    """The process-wide WordNet reader, loaded on first use (about 1.5 s).

    Raises :class:`BackendUnavailable` when no WordNet database is installed.
    """
    global _reader
    if _reader is not None:
        return _reader
    with _lock:
        if _reader is None:
            folder = find_wordnet_dir()
            if folder is None:
                raise BackendUnavailable(
                    f"METEOR needs WordNet 3.0, which was not found in $WNSEARCHDIR or "
                    f"{DEFAULT_WORDNET_DIR}: {INSTALL_HINT}",
                    code="wordnet_missing",
                )
            _authorise(folder)
            _reader = SystemWordNetReader(folder)
        return _reader
