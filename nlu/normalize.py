"""Text normalisation for Indonesian chat messages.

Citizens write "gw udh lapor 2x tp blm ada yg dtg bgttt": lower case, slang, abbreviations,
stretched letters. The classifier learns better from one spelling per word, so both training
examples and incoming messages go through the same :class:`Normalizer`. The built-in table
covers common Jakarta chat spellings; the training data's ``synonym:`` sections add more.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nlu.lexicon import EN_ID
from nlu.stemming import stems

#: Common chat spellings → standard Indonesian (and a few English ones). Single tokens only;
#: ambiguous short forms (``g``, ``w``, ``kk``) are left alone on purpose.
SLANG: Mapping[str, str] = {
    # pronouns
    "gw": "saya", "gue": "saya", "gua": "saya", "aku": "saya", "ane": "saya", "sy": "saya",
    "lu": "kamu", "lo": "kamu", "elo": "kamu", "loe": "kamu", "km": "kamu",
    # negation, aspect
    "ga": "tidak", "gak": "tidak", "gk": "tidak", "nggak": "tidak", "ngga": "tidak",
    "enggak": "tidak", "engga": "tidak", "tdk": "tidak", "tak": "tidak", "kagak": "tidak",
    "udah": "sudah", "udh": "sudah", "sdh": "sudah", "dah": "sudah", "uda": "sudah",
    "blm": "belum", "blom": "belum", "belom": "belum", "blum": "belum",
    "lg": "lagi", "msh": "masih", "sdg": "sedang", "lgi": "lagi",
    "bkn": "bukan", "hrs": "harus", "bs": "bisa", "bsa": "bisa",
    # function words
    "yg": "yang", "dgn": "dengan", "dg": "dengan", "utk": "untuk", "untk": "untuk",
    "krn": "karena", "karna": "karena", "krna": "karena", "tp": "tapi", "tpi": "tapi",
    "dr": "dari", "dri": "dari", "pd": "pada", "dlm": "dalam", "ttg": "tentang",
    "spt": "seperti", "kyk": "seperti", "kayak": "seperti", "kek": "seperti",
    "sm": "sama", "ama": "sama", "jg": "juga", "aja": "saja", "aj": "saja",
    "kalo": "kalau", "klo": "kalau", "kl": "kalau", "trs": "terus", "trus": "terus",
    "sampe": "sampai", "ampe": "sampai", "emang": "memang", "bnyk": "banyak",
    "org": "orang", "tlg": "tolong", "tolongin": "tolong", "mnt": "minta", "mksd": "maksud",
    "bgt": "banget", "bngt": "banget", "bgd": "banget",
    # questions
    "gmn": "bagaimana", "gimana": "bagaimana", "bgmn": "bagaimana", "gmana": "bagaimana",
    "knp": "kenapa", "napa": "kenapa", "kpn": "kapan", "dmn": "dimana", "brp": "berapa",
    # time
    "skrg": "sekarang", "skg": "sekarang", "kmrn": "kemarin", "kmarin": "kemarin",
    "td": "tadi", "tdi": "tadi", "bsk": "besok", "sblm": "sebelum", "hr": "hari",
    "bln": "bulan", "thn": "tahun", "mgg": "minggu",
    # places
    "jl": "jalan", "jln": "jalan", "jl.": "jalan", "gg": "gang", "kel": "kelurahan",
    "kec": "kecamatan", "kab": "kabupaten", "rmh": "rumah", "dpn": "depan",
    "blkg": "belakang", "dkt": "dekat", "deket": "dekat", "sebrang": "seberang",
    "smpg": "samping",
    # politeness
    "makasih": "terima kasih", "mksh": "terima kasih", "makasi": "terima kasih",
    "trims": "terima kasih", "trimakasih": "terima kasih", "terimakasih": "terima kasih",
    "tks": "terima kasih", "thx": "thanks", "tq": "thanks", "ty": "thanks",
    "pls": "please", "plz": "please", "u": "you", "ur": "your",
    "ok": "oke", "okey": "oke", "okay": "oke", "okee": "oke", "okeh": "oke", "sip": "oke",
    "iya": "ya", "iye": "ya", "yoi": "ya", "yup": "ya", "yap": "ya",
    "gpp": "tidak apa apa", "mimin": "admin",
}

_STRETCH = re.compile(r"([a-z])\1{2,}")           # "bangeeet" → "banget"
_REDUP = re.compile(r"\b([a-z]{3,})2\b")            # "anak2" → "anak anak"
_TOKEN = re.compile(r"[a-z0-9]+")


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-/:;()@#&%+=_*")


def looks_like_junk(text: str) -> bool:
    """Whether ``text`` is mostly characters people do not chat in (decoded binary, mojibake).

    Chat in Indonesian and English is written in ASCII letters, digits and punctuation, plus
    emoji and symbols (which are ignored here). Decoded random bytes are mostly other letters
    and control characters; a classifier would still find n-grams in them and guess.
    """
    counted = plain = 0
    for ch in text:
        # U+FFFD is what undecodable bytes become: evidence of junk, not an emoji.
        if ch != "\ufffd" and (ch.isspace() or unicodedata.category(ch) in ("So", "Sk", "Cs", "Cc", "Co", "Cn", "Mn")):
            continue
        counted += 1
        plain += ch in _PLAIN
    return counted > 0 and plain < 0.7 * counted


def fold(text: str) -> str:
    """Unicode-normalise and lower-case (NFKC turns fullwidth and styled letters into ASCII)."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True, slots=True)
class Normalizer:
    """Maps chat spellings to one form per word.

    Attributes:
        table: token → replacement (built-in :data:`SLANG` plus training-data synonyms).
        phrases: multi-word surface form → replacement, applied before tokenising.
        expansions: token → words added after it in :meth:`features` (English → Indonesian).
        stemmed: Whether :meth:`features` adds each word's Indonesian stem (:mod:`nlu.stemming`).
    """

    table: Mapping[str, str] = field(default_factory=lambda: dict(SLANG))
    phrases: tuple[tuple[str, str], ...] = ()
    expansions: Mapping[str, str] = field(default_factory=dict)
    stemmed: bool = False

    @classmethod
    def from_synonyms(cls, synonyms: Iterable[tuple[str, Iterable[str]]]) -> Normalizer:
        """Build from (value, surface forms) pairs, e.g. the YAML ``synonym:`` sections.

        Synonyms whose value is several words or carries capitals (a place name) still map:
        everything is compared after :func:`fold`.
        """
        table = dict(SLANG)
        phrases: dict[str, str] = {}
        for value, forms in synonyms:
            target = " ".join(_TOKEN.findall(fold(value)))
            if not target:
                continue
            for form in forms:
                toks = _TOKEN.findall(fold(form))
                if not toks:
                    continue
                if len(toks) == 1:
                    table[toks[0]] = target
                else:
                    phrases[" ".join(toks)] = target
        # Longest phrases first so "jl raya" wins over "jl".
        ordered = tuple(sorted(phrases.items(), key=lambda kv: -len(kv[0])))
        return cls(table, ordered, dict(EN_ID), stemmed=True)

    def tokens(self, text: str) -> list[str]:
        """The normalised tokens of ``text``."""
        t = _STRETCH.sub(r"\1", fold(text))
        t = _REDUP.sub(r"\1 \1", t)
        toks = _TOKEN.findall(t)
        if self.phrases and len(toks) > 1:
            joined = " " + " ".join(toks) + " "
            for phrase, target in self.phrases:
                if f" {phrase} " in joined:
                    joined = joined.replace(f" {phrase} ", f" {target} ")
            toks = joined.split()
        out: list[str] = []
        for tok in toks:
            out.extend(self.table.get(tok, tok).split())
        return out

    def features(self, text: str) -> str:
        """What the classifier sees: normalised tokens plus their :meth:`extras`."""
        toks = self.tokens(text)
        return " ".join(toks + self.extras(toks))

    def extras(self, toks: list[str]) -> list[str]:
        """Words added after the tokens: Indonesian for English words, then stems."""
        extra: list[str] = []
        if self.expansions:
            extra += [self.expansions[t] for t in toks if t in self.expansions]
        if self.stemmed:
            extra += stems(toks)
        return extra

    def normalize(self, text: str) -> str:
        """``text`` as one normalised, space-separated string."""
        return " ".join(self.tokens(text))
