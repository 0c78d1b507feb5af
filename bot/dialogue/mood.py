"""Small text signals the dialogue uses besides the NLU: anger, skipping, "more", field names."""

from __future__ import annotations

import re

# Insults and swearing common in Indonesian chat; an angry citizen goes to a person.
_ANGRY_WORDS = re.compile(
    r"\b(anjing|anjir|bangsat|brengsek|goblok|tolol|bego|kampret|sialan|bajingan|keparat|"
    r"babi|tai|taik|asu|jancuk|fuck|fucking|shit|damn|useless|idiot|stupid|"
    r"kecewa banget|kecewa sekali|muak|parah banget|ga becus|gak becus|tidak becus|nggak becus)\b",
    re.IGNORECASE)
SKIP_WORDS = {"lewati", "lewat", "skip", "tidak ada", "tidak ada foto", "ga ada", "gak ada",
              "nggak ada", "no photo", "none", "tidak", "gak", "ga", "no", "nanti saja", "tdk ada"}
MORE_WORDS = {"lagi", "more", "selengkapnya", "lanjut", "lanjutkan", "detail", "info lagi",
              "more info", "tell me more", "next", "berikutnya"}
NOT_FIXED_WORDS = re.compile(r"\b(belum|not fixed|masih|belum beres|belum selesai|tidak beres|"
                             r"gak beres|ga beres|buka kembali|reopen)\b", re.IGNORECASE)
FIELD_WORDS = {
    "location": re.compile(r"\b(lokasi\w*|alamat\w*|tempat\w*|location|address|place)\b", re.I),
    "category": re.compile(r"\b(kategori\w*|jenis\w*|category|type)\b", re.I),
    "description": re.compile(r"\b(keterangan\w*|deskripsi\w*|isi\w*|cerita\w*|description|text)\b", re.I),
    "photo": re.compile(r"\b(foto\w*|gambar\w*|photo\w*|picture|image)\b", re.I),
}
WRONG_WORDS = re.compile(r"\b(salah|keliru|ganti|ubah|koreksi|wrong|change|edit|fix)\b", re.I)


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower()).strip(" .!?")


def is_angry(text: str) -> bool:
    """Swearing, or a long message shouted in capitals with exclamation marks."""
    if _ANGRY_WORDS.search(text):
        return True
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 20 and sum(c.isupper() for c in letters) / len(letters) > 0.8
    return shouting and text.count("!") >= 2


def is_skip(text: str) -> bool:
    return normal(text) in SKIP_WORDS


def is_more(text: str) -> bool:
    return normal(text) in MORE_WORDS


def field_to_change(text: str) -> str | None:
    """ "lokasinya salah" → "location"; None when the text names no field to correct."""
    if not WRONG_WORDS.search(text):
        return None
    for name, pattern in FIELD_WORDS.items():
        if pattern.search(text):
            return name
    return None


def rating_of(text: str) -> int | None:
    m = re.fullmatch(r"\s*([1-5])\s*(/\s*5)?\s*(bintang|stars?)?\s*[.!]?\s*", text, re.I)
    return int(m.group(1)) if m else None
