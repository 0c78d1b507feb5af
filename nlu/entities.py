"""Entity extraction for the in-process engine: ticket numbers and locations.

Ticket numbers follow one format (``WRG-2026-000123``: prefix from config, year, sequence), so a
regular expression finds them however they are typed ("wrg 2026 123", "WRG.2026.000123",
"#wrg2026000123") and :func:`normalize_ticket_id` writes them one way.

Locations are open-ended ("Jl. Melati RT 03/RW 05", "SDN 01 Cempaka", "kec. Tebet"), and a couple
of hundred annotated spans are too few for a statistical tagger, so rules find them: a place word
(street and area prefixes, landmarks such as "pasar", "halte", "sdn") followed by a name, RT/RW
numbers, and the names in the training data's lookup tables; adjacent pieces are joined. The
training data teaches the rules which words are ordinary sentence words (they end a name), which
words occur inside annotated places, and which words start them. Measured against the annotated
spans in docs/BENCHMARKS.md (exact and overlapping matches).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from nlu.base import Entity
from nlu.normalize import fold
from nlu.training_data import TrainingData

# --------------------------------------------------------------------------------------------
# Tickets


def ticket_pattern(prefix: str = "WRG") -> re.Pattern[str]:
    """A pattern for ticket numbers with any separator (dash, dot, space, slash, none).

    A number without the prefix (``2026-000123``) is accepted only with a separator and a full
    six-digit sequence, so phone numbers and dates are not mistaken for tickets.
    """
    p = re.escape(prefix)
    sep = r"[\s.\-_/#:]*"
    return re.compile(
        rf"(?:(?<![A-Za-z0-9])#?(?P<prefix>{p}){sep}(?P<year>(?:19|20)\d\d){sep}(?P<seq>\d{{1,8}})"
        rf"|(?<![\w\-./])(?P<year2>20\d\d)[\-./ ](?P<seq2>\d{{6}}))(?![0-9])",
        re.IGNORECASE,
    )


def normalize_ticket_id(text: str, prefix: str = "WRG") -> str | None:
    """The canonical form of one written ticket number, or None when it is not one.

    >>> normalize_ticket_id("wrg 2026 123")
    'WRG-2026-000123'
    """
    m = ticket_pattern(prefix).fullmatch(text.strip())
    if m is None:
        return None
    return _ticket_value(m, prefix)


def _ticket_value(m: re.Match[str], prefix: str) -> str:
    year = m.group("year") or m.group("year2")
    seq = m.group("seq") or m.group("seq2")
    return f"{prefix.upper()}-{year}-{seq.zfill(6)}"


@dataclass(frozen=True, slots=True)
class TicketExtractor:
    """Finds ticket numbers in free text."""

    prefix: str = "WRG"
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", ticket_pattern(self.prefix))

    def extract(self, text: str) -> list[Entity]:
        return [
            Entity("ticket_id", _ticket_value(m, self.prefix), m.start(), m.end(), m.group(0))
            for m in self.pattern.finditer(text)
        ]


# --------------------------------------------------------------------------------------------
# Locations

#: Words that introduce a named place; the name follows.
PLACE_PREFIXES = frozenset(
    """
    jalan jl jln jl. gang gg lorong komplek kompleks komp perumahan perum blok cluster kampung kp
    desa dusun kelurahan kel kecamatan kec kota kabupaten kab kawasan pasar terminal stasiun halte
    taman jembatan kali sungai rusun rusunawa apartemen sdn smpn sman smkn sd smp sma smk masjid
    mesjid musholla mushola gereja puskesmas rs rsud polsek koramil kantor gedung lapangan spbu
    pom perempatan pertigaan simpang bundaran tugu underpass flyover tol universitas kampus
    mall mal plaza hotel balai stadion
    street st road rd avenue ave
    """.split()
)

#: Abbreviations that are always followed by a name ("jl melati" even in lower case).
_STRONG_PREFIXES = frozenset("jl jln jl. gg kel kec kp komp perum kab sdn smpn sman smkn rsud".split())

#: Words that start a location phrase without naming it: "di", "depan", ...
PREPOSITIONS = frozenset(
    "di depan dekat samping belakang sebelah seberang sekitar daerah wilayah kawasan area "
    "near at in on behind opposite".split()
)

#: Sentence words that never continue a place name (complaint verbs, adjectives, particles).
STOP_WORDS = frozenset(
    """
    yang dan atau tapi karena sudah belum tidak gak ga nggak udah blm sdh ada sangat banget bgt
    rusak bolong berlubang lubang banjir tergenang genangan mati padam rusak tumbang roboh patah
    mampet tersumbat penuh bau kotor macet parkir liar numpuk menumpuk sampah dari ke di sejak
    sudah lagi masih mohon tolong pak bu min admin kak dong sih ya nih tuh deh kok segera cepat
    hari ini kemarin tadi pagi siang sore malam minggu bulan tahun saya kami kita mereka dia ini
    itu the is are was and but please near from since for has have not broken flooded dark
    dengan untuk pada bikin buat jadi sering selalu setiap tiap lama lebih kurang juga sampai
    hancur ancur parah gelap semua total terus kotor jorok berisik licin amblas ambles retak
    """.split()
)

#: Heads that are ordinary words in lower case ("jalan rusak" = "the road is broken").
_WEAK_PREFIXES = frozenset(
    "jalan kantor gedung taman kali sungai lapangan kota kawasan blok street road kelurahan kecamatan "
    "gang halte terminal desa kampung mall mal plaza hotel balai stadion".split()
)
#: Words that do not name a place alone: "jln raya", "jalan utama".
_GENERIC = frozenset("raya besar utama umum kecil lingkungan sini situ tersebut itu sana ini".split())

_RT_RW = re.compile(
    r"(?<![A-Za-z0-9])(?:rt|rw)\s*\.?\s*:?\s*\d{1,3}(?:\s*/\s*(?:rw\s*\.?\s*)?\d{1,3})?"
    r"(?:\s*,?\s*rw\s*\.?\s*:?\s*\d{1,3})?(?![0-9])",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:\.(?=\s|$))?|\S", re.UNICODE)
_MAX_NAME_TOKENS = 4


@dataclass(frozen=True, slots=True)
class _Tok:
    text: str
    low: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()


@dataclass(frozen=True, slots=True)
class LocationExtractor:
    """Rule-based location spans, taught by training data.

    Attributes:
        common_words: Lower-case words that end a name (sentence words seen in training data).
        name_words: Words seen inside annotated locations (they may follow a weak head).
        prefixes: Words that introduce a named place (built-in, lookup tables, heads of spans).
        gazetteer: Lower-case place names from lookup tables and annotated spans.
    """

    common_words: frozenset[str] = STOP_WORDS
    name_words: frozenset[str] = frozenset()
    prefixes: frozenset[str] = PLACE_PREFIXES
    gazetteer: tuple[str, ...] = ()
    _gazetteer_re: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.gazetteer:
            names = sorted(self.gazetteer, key=len, reverse=True)
            pattern = r"(?<![^\W_])(?:" + "|".join(re.escape(n) for n in names) + r")(?![^\W_])"
            object.__setattr__(self, "_gazetteer_re", re.compile(pattern, re.IGNORECASE))

    @classmethod
    def from_training_data(cls, data: TrainingData, lookup_names: Iterable[str] | None = None) -> LocationExtractor:
        """Learn sentence words, name words, landmark heads and place names from the data.

        Args:
            data: Training data with ``location`` annotations and lookup tables.
            lookup_names: Lookup tables holding place names; default: every table except those
                whose name mentions "prefix" (lists of words such as "jl", not places).
        """
        outside: Counter[str] = Counter()
        inside: Counter[str] = Counter()
        heads: Counter[str] = Counter()
        names: set[str] = set()
        for ex in data.examples:
            spans = [s for s in ex.entities if s.entity == "location"]
            pos = 0
            for s in sorted(spans, key=lambda s: s.start):
                outside.update(_words(ex.text[pos : s.start]))
                span_words = [w for w in _words(s.text) if w not in PREPOSITIONS]
                inside.update(span_words)
                if span_words:
                    heads[span_words[0]] += 1
                if len(s.text) >= 4 and not any(w in PLACE_PREFIXES for w in span_words):
                    names.add(" ".join(span_words))
                pos = s.end
            outside.update(_words(ex.text[pos:]))
        # A word is "common" when it is mostly seen outside locations: it ends a name.
        common = {w for w, n in outside.items() if n >= 2 and n > 2 * inside.get(w, 0)} - _NAME_PARTS | STOP_WORDS
        learned_heads = {
            w for w, n in heads.items() if n >= 2 and w not in common and w not in PREPOSITIONS and not w.isdigit()
        }
        prefixes = set(PLACE_PREFIXES) | learned_heads
        chosen = set(lookup_names) if lookup_names is not None else {
            lk.name for lk in data.lookups if "prefix" not in lk.name.lower()
        }
        for lk in data.lookups:
            if lk.name in chosen:
                names.update(fold(e).strip() for e in lk.elements if len(e.strip()) >= 3)
            elif "prefix" in lk.name.lower():
                # Lists like street_prefix ("jl.", "gg", "komplek") teach new place words.
                prefixes.update(w for e in lk.elements for w in _words(e) if w not in ("rt", "rw"))
        name_words = {w for w in inside if w not in common and w not in prefixes}
        return cls(
            frozenset(common - prefixes),
            frozenset(name_words),
            frozenset(prefixes),
            tuple(sorted(n for n in names if n)),
        )

    def extract(self, text: str) -> list[Entity]:
        """Location spans in ``text``; adjacent pieces ("Jl. Melati, RT 03/05") become one."""
        toks = [_Tok(m.group(0), fold(m.group(0)).rstrip("."), m.start(), m.end()) for m in _WORD.finditer(text)]
        # Capitals are evidence of a name only in normally cased text (not "JALAN DI RT 05 HANCUR").
        letters = [c for c in text if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        cased = 0 < upper < 0.5 * len(letters)
        pieces: list[tuple[int, int]] = [(m.start(), m.end()) for m in _RT_RW.finditer(text)]
        if self._gazetteer_re is not None:
            pieces += [(m.start(), m.end()) for m in self._gazetteer_re.finditer(text)]
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok.is_word and tok.low in self.prefixes:
                end = self._name_end(toks, i, cased)
                if end is not None:
                    pieces.append((tok.start, toks[end].end))
                    i = end + 1
                    continue
            i += 1
        return [Entity("location", text[s:e], s, e, text[s:e]) for s, e in _merge(pieces, text)]

    def _name_end(self, toks: list[_Tok], i: int, cased: bool) -> int | None:
        """Index of the last token of the place that token ``i`` starts, or None if it is none."""
        head = toks[i]
        # Abbreviations ("jl", "kel.") and capitalised heads ("Pasar Minggu") always precede a
        # name; a full word ("kelurahan buka jam berapa?") only if a name-like word follows.
        strong = head.low in _STRONG_PREFIXES or head.text.endswith(".") or (cased and head.text[:1].isupper())
        j = i + 1
        if j < len(toks) and toks[j].text == ".":  # "Jl.Melati": the dot is its own token
            j += 1
        last = i
        count = 0
        while j < len(toks) and count < _MAX_NAME_TOKENS:
            t = toks[j]
            if t.text in ("-", "'") and last == j - 1 and count > 0 and j + 1 < len(toks) \
                    and toks[j + 1].is_word and toks[j + 1].start == t.end and t.start == toks[j - 1].end:
                last, j, count = j + 1, j + 2, count + 1  # "masjid Al-Ikhlas", "Jl. H. Sa'aba"
                continue
            if not t.is_word:
                break
            if t.low in _NUMBERED and j + 1 < len(toks) and toks[j + 1].text[:1].isdigit():
                last, j = j + 1, j + 2  # "no. 12", "km 3"
                continue
            if count > 0 and t.low in _ROMAN:
                last, j, count = j, j + 1, count + 1  # "jl. wijaya i"
                continue
            # In normally cased text a capitalised word inside a name continues it even when it is
            # an ordinary word elsewhere: "Jl. Pisangan Lama III", "Gg. Kelapa Dua", "Pasar Minggu".
            # (Not after a full stop, which ends the sentence, nor an acronym: "Kebon Jeruk PJU".)
            titled = cased and count > 0 and t.text[:1].isupper() and not t.text.isupper() \
                and not toks[j - 1].text.endswith(".")
            if (t.low in STOP_WORDS and not (titled and t.low in _TITLED_PARTS)) or t.low in PREPOSITIONS \
                    or t.low in ("rt", "rw") or _VERB_LIKE.match(t.low):
                break
            if t.low in self.common_words and t.low not in _NAME_PARTS and not titled:
                break
            if count > 0 and t.low in self.prefixes and t.low not in _NAME_PARTS:
                break  # "gg. saimun kel. kebon jeruk": the next place starts; pieces merge later
            # ("Raya", "Timur" also head places, but after a name they are part of it.)
            if not strong and count == 0 and head.low in _WEAK_PREFIXES and not self._name_like(t, cased):
                break
            if head.low == "blok" and count == 0 and len(t.text) <= 2:
                last, j, count = j, j + 1, count + 1  # "blok c"
                continue
            last = j
            count += 1
            j += 1
        if last == i or all(t.low in _GENERIC or t.low in self.prefixes for t in toks[i + 1 : last + 1] if t.is_word):
            return None
        return last

    def _name_like(self, t: _Tok, cased: bool) -> bool:
        return (
            (cased and t.text[:1].isupper())
            or t.text[:1].isdigit()
            or t.low in self.name_words
            or any(n.split()[0] == t.low for n in self.gazetteer)
        )


#: Words that are ordinary words elsewhere but common inside place names.
_NAME_PARTS = frozenset("utara selatan timur barat raya baru lama dalam luar tengah permai indah jaya asri".split())

#: Sentence words that are also parts of place names when capitalised after a name.
_TITLED_PARTS = frozenset("lama baru minggu satu dua tiga empat lima enam tujuh delapan sembilan sepuluh".split())

#: Words that take a number after them inside a place: "no. 12", "km 3", "blok c 5".
_NUMBERED = frozenset("no nomor nomer km kav kavling".split())
_ROMAN = frozenset("i ii iii iv v vi vii viii ix x".split())
#: Colloquial verbs and possessives that follow a place word but are not part of it:
#: "kelurahan bukanya", "halte dicopot", "kantornya", "ngelayanin".
_VERB_LIKE = re.compile(r"^(?:di\w{4,}|ng\w{3,}|me[mn]\w{3,}|ber\w{3,}|\w{3,}nya|\w{3,}(?:kan|in))$")


def _words(text: str) -> list[str]:
    return [fold(m.group(0)).rstrip(".") for m in _WORD.finditer(text) if m.group(0)[0].isalnum()]


def _merge(pieces: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Join overlapping pieces and pieces separated only by spaces, commas or dots."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(pieces):
        if out and (s <= out[-1][1] or re.fullmatch(r"[\s,.]*", text[out[-1][1] : s])):
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    # Trailing punctuation is not part of a place ("Jl. Melati," → "Jl. Melati").
    trimmed = []
    for s, e in out:
        while e > s and text[e - 1] in ",;:.":
            e -= 1
        trimmed.append((s, e))
    return trimmed


@dataclass(frozen=True, slots=True)
class EntityExtractor:
    """Tickets and locations together; tickets win where spans overlap."""

    tickets: TicketExtractor = field(default_factory=TicketExtractor)
    locations: LocationExtractor = field(default_factory=LocationExtractor)

    def extract(self, text: str) -> tuple[Entity, ...]:
        found = self.tickets.extract(text)
        for loc in self.locations.extract(text):
            if not any(loc.start < t.end and t.start < loc.end for t in found):
                found.append(loc)
        return tuple(sorted(found, key=lambda e: e.start))
