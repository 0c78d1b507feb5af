"""The public-service knowledge base: one YAML file per language, edited by admins.

Each ``ask_*`` intent has a short ``summary`` (fits SMS) and ``more`` parts sent one at a time
when the citizen asks for more. An article may hold sub-answers (``topics``), each with its own
summary and parts, and every article and topic lists the ``keywords`` that say a question is
about it. The NLU only says "a public-service question"; the words of the question choose the
answer (:meth:`KnowledgeBase.choose`), because a confident intent on a question the knowledge base
does not cover ("syarat bikin SIM") used to get another subject's answer. A subject outside the
knowledge base is matched against ``offices``, which name where to ask instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot import yaml_load
from nlu.stemming import stem

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "knowledge"
#: The reserved top-level key holding the offices for subjects the articles do not cover.
OFFICES_KEY = "offices"
#: The office entry without keywords: where to ask about anything else.
DEFAULT_OFFICE = "default"
#: Separates an article's key from its topic's key ("ask_tax.property").
TOPIC_SEPARATOR = "."

_WORD_RE = re.compile(r"[^\w]+")


class KnowledgeError(Exception):
    """The knowledge base file is missing or malformed (says which file and key)."""


@dataclass(frozen=True, slots=True)
class Article:
    """One answer: an article, or one of its topics (then ``key`` is "article.topic").

    Attributes:
        key: The intent ("ask_tax") or the topic's full key ("ask_tax.property").
        title: A short title for lists and buttons.
        summary: The first answer (fits two SMS).
        more: Further parts, sent one at a time on "more".
        links: Official links, sent after the last part.
        keywords: Words and phrases that say a question is about this answer (this file's language).
    """

    key: str
    title: str
    summary: str
    more: tuple[str, ...]
    links: tuple[str, ...]
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Office:
    """Where to ask about a subject the knowledge base does not cover.

    Attributes:
        key: The entry's name ("driving_licence", or "default" for anything else).
        subject: What the citizen asked about, as shown ("SIM (surat izin mengemudi)").
        office: Who to ask, as shown ("Satpas Polri di Polres setempat ...").
        keywords: Words and phrases that name the subject.
    """

    key: str
    subject: str
    office: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Entries:
    articles: dict[str, Article]
    topics: dict[str, tuple[str, ...]]     # article key -> its topics' full keys
    offices: dict[str, Office]


def words(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text`` with their stems: "Pembayaran PBB-nya" → ("bayar", "pbb", "nya").

    Indonesian affixes go through the project's stemmer; an English plural "s" is dropped. Both the
    question and the keywords go through here, so "bayar"/"membayar"/"pembayaran" all match.
    """
    out = []
    for token in _WORD_RE.sub(" ", text.lower().replace("_", " ")).split():
        root = stem(token)
        if root == token and len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            root = token[:-1]
        out.append(root)
    return tuple(out)


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


#: Phrases up to this many words are looked up in a question's set of phrases; longer keywords
#: (none so far) are searched for word by word.
_PHRASE_WORDS = 6


@dataclass(frozen=True, slots=True)
class Question:
    """A question's words (:func:`words`) and every phrase of up to :data:`_PHRASE_WORDS` of
    them: several hundred keyword phrases are checked against each question, each by one set
    look-up instead of a walk along the question."""

    words: tuple[str, ...]
    phrases: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, text: str) -> Question:
        w = words(text)
        return cls(w, frozenset(w[i:i + n] for n in range(1, _PHRASE_WORDS + 1) for i in range(len(w) - n + 1)))

    def names(self, keyword: tuple[str, ...]) -> bool:
        return keyword in self.phrases if len(keyword) <= _PHRASE_WORDS else _contains(self.words, keyword)


def score(question: Question, keywords: tuple[tuple[str, ...], ...]) -> int:
    """How strongly ``question`` names a subject: the words of every keyword phrase found in
    it, so "surat izin mengemudi" outweighs "izin"."""
    return sum(len(k) for k in keywords if question.names(k))


class KnowledgeBase:
    """The articles, their topics and the offices, per language, read lazily from YAML.

    Args:
        directory: Holds ``id.yml`` and ``en.yml``.
    """

    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.directory = directory
        self._entries: dict[str, _Entries] = {}
        self._keyword_cache: dict[tuple[str, bool], tuple[tuple[str, ...], ...]] = {}

    # -- loading ---------------------------------------------------------------------------
    def _read(self, language: str) -> _Entries:
        if language in self._entries:
            return self._entries[language]
        path = self.directory / f"{language}.yml"
        try:
            data: Any = yaml_load.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KnowledgeError(f"{path}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise KnowledgeError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise KnowledgeError(f"{path}: expected a mapping of intents to articles")
        articles: dict[str, Article] = {}
        topics: dict[str, tuple[str, ...]] = {}
        offices: dict[str, Office] = {}
        for key, item in data.items():
            if key == OFFICES_KEY:
                offices = _offices(path, item)
                continue
            articles[str(key)] = _article(path, str(key), item)
            found = []
            raw_topics = item.get("topics") or {}
            if not isinstance(raw_topics, dict):
                raise KnowledgeError(f"{path}: {key}.topics: expected a mapping of topics")
            for name, topic in raw_topics.items():
                full = f"{key}{TOPIC_SEPARATOR}{name}"
                articles[full] = _article(path, full, topic)
                if not articles[full].keywords:
                    raise KnowledgeError(f"{path}: {full}: a topic needs keywords")
                found.append(full)
            topics[str(key)] = tuple(found)
        self._entries[language] = _Entries(articles, topics, offices)
        return self._entries[language]

    # -- lookup ----------------------------------------------------------------------------
    def article(self, key: str, language: str) -> Article | None:
        """The article or topic ``key`` (Indonesian when the language lacks it)."""
        found = self._read(language).articles.get(key)
        if found is None and language != "id":
            found = self._read("id").articles.get(key)
        return found

    def keys(self, language: str) -> list[str]:
        """The articles' keys (the intents answered), without topics."""
        return list(self._read(language).topics)

    def all_keys(self, language: str) -> list[str]:
        """Every article's and topic's key."""
        return list(self._read(language).articles)

    def offices(self, language: str) -> list[Office]:
        return list(self._read(language).offices.values())

    def office_keys(self, language: str) -> list[str]:
        return list(self._read(language).offices)

    def office(self, key: str, language: str) -> Office | None:
        found = self._read(language).offices.get(key)
        if found is None and language != "id":
            found = self._read("id").offices.get(key)
        return found

    def warm(self) -> None:
        """Read both languages and stem every keyword now rather than at the first question:
        about 90 ms of CPU that the first citizen to ask a question waited for in each serving
        process. A file that cannot be read is reported when a question needs it, as before."""
        for lang in ("id", "en"):
            try:
                entries = self._read(lang)
            except KnowledgeError:
                continue
            for key in entries.articles:
                self._keywords(key)
            for key in entries.offices:
                self._keywords(key, offices=True)

    def _keywords(self, key: str, offices: bool = False) -> tuple[tuple[str, ...], ...]:
        # Keywords of both languages count: a citizen mixes them ("how to pay pbb").
        cached = self._keyword_cache.get((key, offices))
        if cached is not None:
            return cached
        out: list[tuple[str, ...]] = []
        for lang in ("id", "en"):
            try:
                entries = self._read(lang)
            except KnowledgeError:
                continue
            entry = entries.offices.get(key) if offices else entries.articles.get(key)
            if entry is not None:
                out.extend(w for w in (words(k) for k in entry.keywords) if w)
        self._keyword_cache[(key, offices)] = tuple(out)
        return self._keyword_cache[(key, offices)]

    # -- choosing the answer ---------------------------------------------------------------
    def choose(self, intent: str | None, text: str, language: str, trusted: bool = False) -> Article | Office | None:
        """The answer to a public-service question.

        Args:
            intent: What the NLU understood (an ``ask_*`` intent, or anything else).
            text: The citizen's words.
            language: The conversation's language.
            trusted: The citizen chose the article (a button): answer it even if no word names it.

        Returns:
            The article or topic whose keywords the question names best (the intent's article on a
            tie); an :class:`Office` when the question names a subject the articles do not cover,
            or none of them at all (then the default office); None when there is no default office
            and nothing matched.
        """
        question = Question.of(text)
        scores = {key: score(question, self._keywords(key)) + sum(
            score(question, self._keywords(t)) for t in self._topics(key, language))
            for key in dict.fromkeys(self.keys(language) + self.keys("id"))}
        best_office, office_score = None, 0
        for office in self.offices(language):
            s = score(question, self._keywords(office.key, offices=True))
            if s > office_score:
                best_office, office_score = office, s
        if intent in scores and (trusted or not self._keywords(intent)):
            # A pressed choice, or an article written before keywords existed: nothing to judge by.
            return self._topic_of(intent, question, language)
        best = max(scores, key=lambda k: (scores[k], k == intent), default=None)
        if best is not None and scores[best] > 0 and scores[best] >= office_score:
            return self._topic_of(best, question, language)
        if best_office is not None:
            return best_office
        return self.office(DEFAULT_OFFICE, language)

    def _topics(self, key: str, language: str) -> tuple[str, ...]:
        found = self._read(language).topics.get(key)
        return found if found is not None else self._read("id").topics.get(key, ())

    def _topic_of(self, key: str, question: Question, language: str) -> Article | None:
        # A topic answers when it alone is named; a question naming two ("PBB dan pajak
        # kendaraan") gets the article, which covers both.
        named = [t for t in self._topics(key, language) if score(question, self._keywords(t))]
        return self.article(named[0] if len(named) == 1 else key, language)


def _texts(path: Path, key: str, field: str, value: Any) -> tuple[str, ...]:
    value = value or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(f"{path}: {key}.{field}: expected a list of texts")
    return tuple(v.strip() for v in value)


def _article(path: Path, key: str, item: Any) -> Article:
    if not isinstance(item, dict) or not isinstance(item.get("summary"), str) or not item["summary"].strip():
        raise KnowledgeError(f"{path}: {key}: needs a non-empty summary")
    return Article(key, str(item.get("title") or key), item["summary"].strip(),
                   _texts(path, key, "more", item.get("more")),
                   tuple(str(u) for u in item.get("links") or []),
                   _texts(path, key, "keywords", item.get("keywords")))


def _offices(path: Path, item: Any) -> dict[str, Office]:
    if not isinstance(item, dict):
        raise KnowledgeError(f"{path}: {OFFICES_KEY}: expected a mapping of subjects to offices")
    out = {}
    for key, entry in item.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("office"), str) or not entry["office"].strip():
            raise KnowledgeError(f"{path}: {OFFICES_KEY}.{key}: needs an office")
        keywords = _texts(path, f"{OFFICES_KEY}.{key}", "keywords", entry.get("keywords"))
        if not keywords and key != DEFAULT_OFFICE:
            raise KnowledgeError(f"{path}: {OFFICES_KEY}.{key}: needs keywords")
        out[str(key)] = Office(str(key), str(entry.get("subject") or key).strip(), entry["office"].strip(), keywords)
    return out
