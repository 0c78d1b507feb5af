"""What a citizen's message says besides its main intent: the description a complaint is filed
with, and the questions asked alongside it.

A first message is often a letter: "Assalamualaikum, selamat pagi Bapak/Ibu. Mohon izin melapor,
jalan di Jl. Kenanga RT 03/RW 05 berlubang besar, dekat masjid, sudah 2 minggu. Berapa lama
biasanya ditangani? Mohon ditindaklanjuti. Terima kasih 🙏". The NLU reads it by its clauses
(:class:`nlu.base.Part`, :mod:`nlu.long_messages`); here those clauses are sorted into

- courtesies and requests (greetings, thanks, "mohon izin", "mohon ditindaklanjuti", emoji),
  which never belong in a complaint's description;
- questions the bot can answer (how long complaints take, a public-service question, the status
  of an earlier report), answered in the same turn and left out of the description;
- the rest: the description, as the citizen wrote it.

A message the NLU did not cut (a short one, or an engine that does not read by parts) is cut
here with the same :func:`nlu.long_messages.clauses`, without clause intents: questions are
then recognised by their words alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dialogue import mood
from nlu.base import Parse, Part
from nlu.long_messages import clauses

# Words that open or close a letter, or ask for action in general, in both languages. A clause
# made only of these (and terms of address, emoji, punctuation) is no part of the problem.
_COURTESY = (
    r"assalamu'?\s?alaikum|asalamualaikum|assalamualaikum|ass?ww?|wr|wb|wassalamu'?\s?alaikum|wassalam|salam|"
    r"salam sejahtera|shalom|om swastiastu|selamat (pagi|siang|sore|malam)|pagi|siang|sore|malam|"
    r"halo|hallo|hai|hi|hello|hey|permisi|maaf|mohon maaf( mengganggu)?|maaf mengganggu|"
    r"(mohon )?izin( (melapor|lapor|bertanya|tanya|menyampaikan))?( (keluhan|laporan|aduan|pengaduan))?|"
    r"mohon|tolong|minta tolong|melapor|lapor|"
    r"(mohon|tolong|harap) (segera )?(di ?tindak ?lanjuti|ditindak|tindak ?lanjut(nya|i)?|bantuan(nya)?|"
    r"dibantu|bantu|perhatian(nya)?|respon(nya)?|ditanggapi|dicek|di ?cek|diproses|penanganan(nya)?)|"
    r"atas perhatian(nya)?|atas bantuan(nya)?|(terima ?kasih|makasih|makasi|trims|tks|thx|thanks|tq)"
    r"( banyak| sebelumnya| atas (perhatian|bantuan|responnya)(nya)?| ya)*|"
    r"sekalian( (mau|ingin|sekalian))?( (tanya|bertanya|nanya))?|(saya |kami )?(mau|ingin|hendak) "
    r"(tanya|bertanya|nanya|melapor|lapor|melaporkan|menyampaikan|mengadu)( (keluhan|laporan|aduan))?|"
    r"good (morning|afternoon|evening|day)|dear( sir| madam| team| all| sir or madam| sir/madam)?|"
    r"thank you( so much| very much| in advance| for (your|the) (help|attention|service|time))?|"
    r"thanks( a lot| so much| in advance)?|many thanks|(kind |best )?regards|cheers|sincerely|"
    r"sorry to bother( you)?|excuse me|please( (help|follow up|follow it up|look into (it|this)|"
    r"take action|respond|handle (it|this)|send someone|act))?( soon| quickly| asap)?|"
    r"i (also )?(would like|want|wanted|d like) to (ask|report|complain)( that| about)?|also a question"
)
_ADDRESS = (
    r"pak|bu|bapak|ibu|bapak/ibu|bapak ibu|bpk|min|mimin|admin|kak|kakak|mas|mbak|bang|om|tante|gan|"
    r"sir|madam|team|all|semua|tim|petugas|dinas|pemkot|pemda|warga|yth|yang terhormat|ya|yah|dong|"
    r"nya|sekali|sekaligus|juga|and|also|ok|oke"
)
_WORDS = rf"(?:{_COURTESY}|{_ADDRESS})"
_ONLY_COURTESY = re.compile(rf"(?:{_WORDS})(?:\s+(?:{_WORDS}))*", re.IGNORECASE)
# Openers stuck to the problem in one clause: "Tolong pak 🙏 lampu jalan ...". Only greetings,
# pleas and terms of address: "Malam ini lampu mati" and "Warga RT 05 mengeluh" keep their words.
_OPENERS = (
    r"assalamu'?\s?alaikum|assalamualaikum|wr|wb|selamat (pagi|siang|sore|malam)|halo|hallo|hai|hi|hello|"
    r"permisi|maaf|mohon maaf|(mohon )?izin|mohon|tolong|minta tolong|dear|good (morning|afternoon|evening)|"
    r"pak|bu|bapak|ibu|bapak/ibu|bpk|min|mimin|admin|kak|mas|mbak|bang|gan|sir|madam|yth"
)
_LEADING = re.compile(rf"^(?:(?:{_OPENERS})[^\w]+)+(?=\w)", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^\w\s/']+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Asked:
    """A question asked alongside the message's main intent.

    Attributes:
        text: The clause as written.
        intent: The clause's own intent (None when the NLU did not read it alone, or was unsure).
        how_long: It asks how long complaints take ("berapa lama biasanya ditangani?").
    """

    text: str
    intent: str | None
    how_long: bool


@dataclass(frozen=True, slots=True)
class Letter:
    """A message sorted into its description and its questions.

    Attributes:
        description: The problem as written, without courtesies and answered questions ("" when
            nothing is left).
        questions: Questions to answer besides the main intent, in message order.
    """

    description: str
    questions: tuple[Asked, ...]


def is_courtesy(text: str) -> bool:
    """Only greetings, thanks, requests for action, terms of address and emoji."""
    words = " ".join(_NOT_WORD.sub(" ", text).split())
    return not words or bool(_ONLY_COURTESY.fullmatch(words))


# A request phrased as a question asks for action, not for an answer: "Could you please ask the
# cleaning service to pick it up?", "bisa tolong segera diperbaiki?".
_REQUEST = re.compile(r"^\W*(could|can|would|will) you\b|\bplease\b|^\W*(bisa|bisakah|mohon|tolong|minta)"
                      r"\b.*\b(tolong|dibantu|di\w+kan|di\w+i|segera)\b|^\W*(mohon|tolong|minta)\b", re.IGNORECASE)


# Words that ask for information without a question mark: "sekalian info syarat bikin KTP".
_ASKING = re.compile(r"\b(cara|syarat|persyaratan|prosedur|info|informasi|tanya|bertanya|how|what|where|which|"
                     r"requirements?|procedure)\b", re.IGNORECASE)


def _answerable(part: Part, main: str | None) -> Asked | None:
    """The question a clause asks that the bot can answer, or None (a statement, a request, or a
    question that is part of the story: "kenapa belum juga diperbaiki?")."""
    text = part.text
    if _REQUEST.search(text) and not mood.asks_how_long(text):
        return None
    asked = part.mark == "?" or mood.is_question(text)
    how_long = mood.asks_how_long(text)
    intent = part.intent
    if how_long and (asked or part.role == "secondary"):
        return Asked(text, intent, True)
    if intent is not None and intent.startswith("ask_") and intent != "ask_emergency" and intent != main \
            and (asked or _ASKING.search(text)):
        # Only a clause that asks: "Kelurahan Rawamangun" after an address is no office-hours question.
        return Asked(text, intent, False)
    if intent == "check_status" and asked:
        return Asked(text, intent, False)
    return None


def read_letter(text: str, parse: Parse | None, main: str | None) -> Letter:
    """Sort ``text`` (the message as received) into description and questions.

    Args:
        text: The citizen's message.
        parse: What the NLU understood; its :attr:`~nlu.base.Parse.parts` when it read the
            message by parts.
        main: The intent the dialogue is acting on (a question of that same intent is the main
            business, not a question besides it).
    """
    if parse is not None and parse.parts and parse.text.strip() == text.strip():
        parts = parse.parts
    else:
        parts = tuple(Part(c.start, c.end, c.text, c.mark, None, 0.0, "core") for c in clauses(text))
    kept: list[Part] = []
    questions: list[Asked] = []
    for part in parts:
        if part.role == "courtesy" or is_courtesy(part.text):
            continue
        asked = _answerable(part, main)
        if asked is not None:
            questions.append(asked)
        else:
            kept.append(part)
    # A one-clause message is kept as written ("saya mau melaporkan sesuatu yang terjadi di
    # kampung"); in a letter, the opener stuck to the problem goes.
    trim = len(parts) > 1
    if len(kept) == len(parts) and not (trim and _LEADING.match(kept[0].text)):
        # Nothing to leave out: the message as written, line breaks and all.
        return Letter(text.strip(), ())
    return Letter(_join(kept, trim=trim), tuple(questions))


# Words that make a landmark a direction: "dekat masjid Al-Ikhlas", not just "masjid Al-Ikhlas".
_TOWARDS = re.compile(r"(?:\b(?:dekat|deket|dkt|depan|samping|belakang|seberang|sebelah|sekitar|ujung|"
                      r"pojok|near|opposite|behind|beside|next to|in front of|across from)\s+(?:the\s+)?)$",
                      re.IGNORECASE)
MAX_PLACE = 500


def place_of(parse: Parse | None) -> str | None:
    """Every place the message names, as written, in order: "Jl. Kenanga No. 12 RT 03/RW 05 Kel.
    Cipete, dekat masjid Al-Ikhlas" (an address and its landmarks); None when it names none."""
    if parse is None:
        return None
    found: list[str] = []
    for e in parse.spans("location"):
        written = e.value or e.text
        # The entity's offsets point into the text that was parsed; a landmark keeps its
        # direction word when one comes right before it.
        before = parse.text[max(0, e.start - 20) : e.start] if parse.text[e.start : e.end] == e.text else ""
        towards = _TOWARDS.search(before)
        if found and towards:
            written = towards.group(0) + written
        if written and not any(written in f for f in found):
            found.append(written)
    return ", ".join(found)[:MAX_PLACE] if found else None


def _join(parts: list[Part], *, trim: bool) -> str:
    """The clauses back into one text, each with the punctuation it had."""
    pieces = []
    for i, part in enumerate(parts):
        piece = part.text
        if i == 0 and trim:
            piece = _LEADING.sub("", piece)
        if part.mark in (".", "!", "?", ",", ";"):
            piece += part.mark
        pieces.append(piece)
    out = " ".join(pieces).strip()
    out = re.sub(r"[\s,;:]+$", "", out)
    # Emoji at either end are a greeting's or a thanks' ("🙏"): the problem is in the words.
    out = re.sub(r"^[^\w(\"']+|(?<=[\w.!?)\"'])[^\w.!?)\"']+$", "", out)
    return out.strip()


__all__ = ["Asked", "Letter", "is_courtesy", "place_of", "read_letter"]
