"""The public-service knowledge base: one YAML file per language, edited by admins.

Each ``ask_*`` intent has a short ``summary`` (fits SMS) and ``more`` parts sent one at a time
when the citizen asks for more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "knowledge"


class KnowledgeError(Exception):
    """The knowledge base file is missing or malformed (says which file and key)."""


@dataclass(frozen=True, slots=True)
class Article:
    key: str
    title: str
    summary: str
    more: tuple[str, ...]
    links: tuple[str, ...]


class KnowledgeBase:
    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.directory = directory
        self._articles: dict[str, dict[str, Article]] = {}

    def _load(self, language: str) -> dict[str, Article]:
        if language in self._articles:
            return self._articles[language]
        path = self.directory / f"{language}.yml"
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KnowledgeError(f"{path}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise KnowledgeError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise KnowledgeError(f"{path}: expected a mapping of intents to articles")
        articles = {}
        for key, item in data.items():
            if not isinstance(item, dict) or not isinstance(item.get("summary"), str) \
                    or not item["summary"].strip():
                raise KnowledgeError(f"{path}: {key}: needs a non-empty summary")
            more = item.get("more") or []
            links = item.get("links") or []
            if not all(isinstance(m, str) and m.strip() for m in more):
                raise KnowledgeError(f"{path}: {key}.more: expected a list of texts")
            articles[str(key)] = Article(str(key), str(item.get("title") or key), item["summary"].strip(),
                                         tuple(m.strip() for m in more), tuple(str(u) for u in links))
        self._articles[language] = articles
        return articles

    def article(self, key: str, language: str) -> Article | None:
        found = self._load(language).get(key)
        if found is None and language != "id":
            found = self._load("id").get(key)
        return found

    def keys(self, language: str) -> list[str]:
        return list(self._load(language))
