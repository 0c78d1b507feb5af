"""Canned replies staff insert into a conversation's reply box, in the conversation's language.

Kept as YAML beside the knowledge base (``<city.knowledge_dir>/canned_replies.yml``): a list of
``{title, id, en}``. Read when a conversation page opens (a small file; an admin's edit shows at
once). A missing or broken file means no canned replies, never a broken page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot import yaml_load

log = logging.getLogger(__name__)
FILE_NAME = "canned_replies.yml"


@dataclass(frozen=True, slots=True)
class CannedReply:
    title: str
    text: str


def canned_replies(knowledge_dir: Path, language: str) -> list[CannedReply]:
    """The replies in ``language`` (Indonesian where an entry has no text in it)."""
    path = knowledge_dir / FILE_NAME
    try:
        entries = yaml_load.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        log.warning("canned replies unreadable", extra={"path": str(path), "reason": str(exc)})
        return []
    if not isinstance(entries, list):
        log.warning("canned replies: not a list", extra={"path": str(path)})
        return []
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        text = entry.get(language) or entry.get("id")
        if isinstance(text, str) and text.strip():
            out.append(CannedReply(str(entry.get("title") or text[:30]), text.strip()))
    return out
