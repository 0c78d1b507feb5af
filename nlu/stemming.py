"""Indonesian stems as extra classifier features.

Indonesian builds words with affixes: "berlubang", "lubangnya", "dilubangi" all carry "lubang";
"kebanjiran", "banjirnya" carry "banjir". A citizen's message often uses a form no training
example has. Adding each word's stem (Sastrawi, the standard Indonesian stemmer, from the
PySastrawi package) next to the word lets the classifier use what it learned from other forms.
Measured on the frozen held-out sets (docs/BENCHMARKS.md): kept because held-out accuracy rose.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

#: Words this short are left alone (stems of 3-letter words are mostly wrong).
MIN_STEM_LENGTH = 4

_lock = threading.Lock()
_stemmer: Any = None


def _get_stemmer() -> Any:
    global _stemmer
    if _stemmer is None:
        with _lock:
            if _stemmer is None:
                # Imported late: building the dictionary takes about 0.2 s, paid once.
                from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

                _stemmer = StemmerFactory().create_stemmer()
    return _stemmer


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The stem of one lower-case word ("berlubang" → "lubang"); the word itself when it is
    short, not alphabetic, or has no affix."""
    if len(word) < MIN_STEM_LENGTH or not word.isalpha():
        return word
    return str(_get_stemmer().stem(word)) or word


def stems(tokens: list[str]) -> list[str]:
    """The stems of ``tokens`` that differ from the token, in order."""
    out: list[str] = []
    for tok in tokens:
        s = stem(tok)
        if s != tok:
            out.append(s)
    return out


__all__ = ["MIN_STEM_LENGTH", "stem", "stems"]
