"""What Rasa sees: a message, or a training example, as the text Rasa is sent and trained on.

Rasa is sent the text the sklearn engine classifies (:func:`rasa_text`: Warga's normalisation
plus its English → Indonesian and concept words). Each normalised word remembers which
characters of the citizen's text it came from, so the entities Rasa finds are reported on the
text as written (:meth:`RasaText.original_span`), and annotated training examples keep their
entities when they are rewritten (:func:`rasa_training_data`). Used by the HTTP client
(:mod:`nlu.rasa_engine`) and the trainer (:mod:`nlu.rasa_server`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import _REDUP, _STRETCH, _TOKEN, Normalizer, fold
from nlu.training_data import EntitySpan, Example, TrainingData

#: Rasa learns from and is sent the text the sklearn engine classifies: Warga's normalised
#: tokens (slang, abbreviations, stretched letters, nlu/normalize.py) followed by the
#: English → Indonesian words and concept tokens of nlu/lexicon.py. Measured on Warga's data
#: (docs/BENCHMARKS.md): 5-fold CV accuracy 0.880 with this text against 0.766 with the raw
#: text (same pipeline). Built from the code's own tables only, not from the training data's
#: synonyms (those changed nothing, measured), so the text of a message never depends on which
#: data a model was trained on. Changing those tables calls for retraining the Rasa model.
RASA_NORMALIZER = Normalizer.from_synonyms(())

_NO_SPAN = (-1, -1)
_Chars = list[tuple[str, int, int]]  # (character, start, end in the original text)


@dataclass(frozen=True, slots=True)
class RasaText:
    """A message as Rasa sees it, with the way back to the original.

    Attributes:
        original: The citizen's text.
        text: What is sent to Rasa: normalised tokens, then the added feature words.
        tokens: One (start, end in ``text``, start, end in ``original``) per token of ``text``;
            the added words have no origin (-1, -1).
    """

    original: str
    text: str
    tokens: tuple[tuple[int, int, int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The original text covered by ``text[start:end]`` (None: only added words)."""
        hits = [t for t in self.tokens if t[0] < end and start < t[1] and t[2] >= 0]
        if not hits:
            return None
        return min(t[2] for t in hits), max(t[3] for t in hits)

    def rasa_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The part of ``text`` that ``original[start:end]`` became (None: nothing)."""
        hits = [t for t in self.tokens if t[2] >= 0 and t[2] < end and start < t[3]]
        if not hits:
            return None
        return min(t[0] for t in hits), max(t[1] for t in hits)


def rasa_text(text: str, normalizer: Normalizer = RASA_NORMALIZER) -> RasaText:
    """Normalise ``text`` the way :meth:`Normalizer.features` does, keeping offsets.

    The tokens are the same as ``normalizer.tokens(text)`` and the whole text, lower-cased, the
    same as ``normalizer.features(text)`` (tests check this on all training and held-out data);
    words that normalisation did not change keep their capitals. Each
    token remembers which characters of ``text`` it came from, so entities Rasa finds in the
    normalised text are reported as the citizen wrote them.
    """
    words = _aligned_tokens(text, normalizer)
    toks = [w for w, _, _ in words]
    extra = normalizer.extras(toks)
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    pos = 0
    for word, o_start, o_end in [*words, *((w, *_NO_SPAN) for e in extra for w in e.split())]:
        if o_start >= 0 and text[o_start:o_end].lower() == word:
            # A word normalisation left alone keeps its capitals: Rasa's entity extractor
            # reads them (place names are often capitalised); its classifier lower-cases.
            word = text[o_start:o_end]
        if parts:
            pos += 1
        parts.append(word)
        spans.append((pos, pos + len(word), o_start, o_end))
        pos += len(word)
    return RasaText(text, " ".join(parts), tuple(spans))


def _aligned_tokens(text: str, normalizer: Normalizer) -> list[tuple[str, int, int]]:
    """``normalizer.tokens(text)`` with each token's (start, end) in ``text``."""
    chars = _folded_chars(text)
    chars = _resub(chars, _STRETCH, r"\1")
    chars = _resub(chars, _REDUP, r"\1 \1")
    folded = "".join(c for c, _, _ in chars)
    toks = [(m.group(), chars[m.start()][1], chars[m.end() - 1][2]) for m in _TOKEN.finditer(folded)]
    if normalizer.phrases and len(toks) > 1:
        toks = _replace_phrases(toks, normalizer.phrases)
    out: list[tuple[str, int, int]] = []
    for tok, start, end in toks:
        out.extend((w, start, end) for w in normalizer.table.get(tok, tok).split())
    return out


def _folded_chars(text: str) -> _Chars:
    """:func:`fold` character by character, each folded character pointing at its source."""
    chars = [(c, i, i + 1) for i, ch in enumerate(text) for c in fold(ch)]
    if "".join(c for c, _, _ in chars) == fold(text):
        return chars
    # NFKC composed across characters (a letter and a combining accent): word granularity.
    chars = []
    for m in re.finditer(r"\S+|\s+", text):
        chars.extend((c, m.start(), m.end()) for c in fold(m.group()))
    if "".join(c for c, _, _ in chars) == fold(text):
        return chars
    return [(c, *_NO_SPAN) for c in fold(text)]


def _resub(chars: _Chars, pattern: re.Pattern[str], template: str) -> _Chars:
    """``pattern.sub(template, ...)`` on aligned characters; a replacement spans its match."""
    text = "".join(c for c, _, _ in chars)
    out: _Chars = []
    pos = 0
    for m in pattern.finditer(text):
        out.extend(chars[pos : m.start()])
        start, end = chars[m.start()][1], chars[m.end() - 1][2]
        out.extend((c, start, end) for c in m.expand(template))
        pos = m.end()
    out.extend(chars[pos:])
    return out


def _replace_phrases(
    toks: list[tuple[str, int, int]], phrases: tuple[tuple[str, str], ...]
) -> list[tuple[str, int, int]]:
    """The phrase step of :meth:`Normalizer.tokens` (``str.replace`` on " a b c ") on aligned tokens."""
    chars: _Chars = [(" ", *_NO_SPAN)]
    for tok, start, end in toks:
        chars.extend((c, start, end) for c in tok)
        chars.append((" ", *_NO_SPAN))
    for phrase, target in phrases:
        needle = f" {phrase} "
        joined = "".join(c for c, _, _ in chars)
        if needle not in joined:
            continue
        out: _Chars = []
        pos = 0
        while (hit := joined.find(needle, pos)) >= 0:
            out.extend(chars[pos:hit])
            inner = [(s, e) for _, s, e in chars[hit + 1 : hit + len(needle) - 1] if s >= 0]
            start = min((s for s, _ in inner), default=-1)
            end = max((e for _, e in inner), default=-1)
            out.append((" ", *_NO_SPAN))
            out.extend((c, start, end) for c in target)
            out.append((" ", *_NO_SPAN))
            pos = hit + len(needle)
        out.extend(chars[pos:])
        chars = out
    result: list[tuple[str, int, int]] = []
    word: _Chars = []
    for c in [*chars, (" ", *_NO_SPAN)]:
        if c[0] == " ":
            if word:
                starts = [s for _, s, _ in word if s >= 0]
                ends = [e for _, _, e in word if e >= 0]
                result.append(("".join(ch for ch, _, _ in word), min(starts, default=-1), max(ends, default=-1)))
            word = []
        else:
            word.append(c)
    return result


def rasa_training_data(data: TrainingData, normalizer: Normalizer = RASA_NORMALIZER) -> TrainingData:
    """``data`` with every example as Rasa sees it (:func:`rasa_text`), annotations moved along.

    An annotated entity covers the normalised tokens that came from its characters; its value
    is the normalised text unless the annotation gave another value explicitly.
    """
    examples = []
    for ex in data.examples:
        rt = rasa_text(ex.text, normalizer)
        spans = []
        for span in ex.entities:
            where = rt.rasa_span(span.start, span.end)
            if where is None:
                continue
            written = rt.text[where[0] : where[1]]
            value = written if span.value == span.text else span.value
            spans.append(EntitySpan(span.entity, where[0], where[1], written, value, span.role))
        examples.append(Example(ex.intent, rt.text, tuple(spans), ex.source))
    return data.with_examples(examples)
