"""Small text signals the dialogue uses besides the NLU: anger, skipping, "more", field names,
ratings, acknowledgements, places and control words.

Anger is measured on a labelled set (tests/dialogue/data/anger.tsv). A false alarm costs more
than a miss: a citizen describing damage in strong words ("rusak parah banget", "kecewa banget
jalannya belum diperbaiki") must keep filing, while a missed insult only means the bot answers
one more message before the citizen asks for a person (which always works).
"""

from __future__ import annotations

import re
import unicodedata

# Swearing and insults aimed at someone: never ordinary words in a complaint.
_INSULTS = re.compile(
    r"\b(bangsat|brengsek|goblok|goblog|tolol|bego|begok|kampret|bajingan|keparat|jancuk|jancok|"
    r"kontol|memek|ngentot|fuck|fucking|fck|wtf|idiot|idiots|stupid|moron|bastard|"
    r"(ga|gak|tidak|nggak|ngga|gk|g|tdk) becus|makan gaji buta|dasar pemalas|incompetent|"
    r"(you are|you're|this is|this bot is|so|totally|completely) useless)\b",
    re.IGNORECASE)
# Animal words and curses are insults only when aimed at someone ("dasar anjing", "anjing lu",
# a lone "anjing!"); "anjing liar di taman" and "kotoran babi" are complaints, not anger.
_CURSE = r"(anjing|anjir|anjrit|babi|asu|monyet|tai|taik|sialan|shit)"
_AIMED = re.compile(
    rf"\b(dasar|kayak|kaya|kalian|lu|lo|loe|kau|pemkot|pemda|bot)\s+{_CURSE}\b"
    rf"|\b{_CURSE}\s+(lu|lo|loe|kau|kalian|emang|lah)\b"
    rf"|^\W*{_CURSE}\W*$|^\W*{_CURSE}\s*[,!]",
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
    """Insults or swearing aimed at someone, or a long message shouted in capitals with "!!".

    Strong words about the problem itself ("parah banget", "kecewa banget", "sudah muak") are
    not anger: they describe the damage and the complaint is filed as usual.
    """
    if _INSULTS.search(text) or _AIMED.search(text.strip()):
        return True
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 20 and sum(c.isupper() for c in letters) / len(letters) > 0.8
    return shouting and text.count("!") >= 2 and bool(_DIRECTED.search(text))


# Shouting counts as anger only when it blames someone ("KALIAN", "PEMKOT", "GAK PERNAH DIURUS").
_DIRECTED = re.compile(r"\b(kalian|pemkot|pemda|pemerintah|petugas|pelayanan|you|your|service|"
                       r"gak pernah|ga pernah|tidak pernah|never|diurus|ditanggapi|respon)\b", re.I)


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


# -- ratings --------------------------------------------------------------------------------

# Words people rate with, in both languages; the strongest match wins ("kurang puas" is 2, not 4).
_RATING_WORDS: tuple[tuple[int, re.Pattern[str]], ...] = tuple((n, re.compile(p, re.I)) for n, p in (
    (1, r"\b(sangat (tidak|gak|ga|kurang) puas|kecewa( banget| sekali)?|jelek( banget| sekali)?|buruk|"
        r"parah|payah|very (bad|poor|unsatisfied|dissatisfied)|terrible|awful|worst)\b"),
    (2, r"\b(kurang( puas| bagus| memuaskan)?|(tidak|gak|ga|nggak) puas|lambat|poor|bad|"
        r"not (good|satisfied)|unsatisfied|dissatisfied)\b"),
    (3, r"\b(lumayan|biasa( saja| aja)?|cukup( puas| bagus)?|okay-ish|so so|so-so|average|fair)\b"),
    (5, r"\b(sangat puas|puas banget|puas sekali|mantap|mantab|mantul|keren|luar biasa|sempurna|"
        r"terbaik|excellent|perfect|great|awesome|amazing|very (good|satisfied)|top)\b"),
    (4, r"\b(puas|bagus|baik|memuaskan|good|satisfied|nice|sip)\b"),
))
_RATING_EMOJI = {"😡": 1, "🤬": 1, "😠": 1, "👎": 1, "😞": 2, "🙁": 2, "😐": 3, "🙂": 4, "😊": 4,
                 "👍": 4, "😃": 5, "😁": 5, "😍": 5, "🥰": 5, "🤩": 5, "💯": 5}


def rating_of(text: str) -> int | None:
    """A 1-5 rating from digits ("5", "4/5", "3 bintang"), stars ("⭐⭐⭐⭐"), emoji or words
    ("puas", "kurang", "mantap", "jelek", "great") in either language; None when there is none.

    A digit elsewhere in a sentence ("sudah 3 hari") is not a rating: a digit counts only when
    it is the message or is followed by "/5", "bintang" or "stars".
    """
    m = re.fullmatch(r"\s*([1-5])\s*(/\s*5)?\s*(bintang|stars?)?\s*[.!]?\s*", text, re.I)
    if m:
        return int(m.group(1))
    m = re.search(r"\b([1-5])\s*(/\s*5|bintang|stars?|dari 5|out of 5)\b", text, re.I)
    if m:
        return int(m.group(1))
    stars = text.count("⭐") + text.count("★") + text.count("🌟")
    if 1 <= stars <= 5:
        return stars
    if NOT_FIXED_WORDS.search(text):
        return None     # "belum beres" is no rating, it reopens
    for n, pattern in _RATING_WORDS:
        if pattern.search(text):
            return n
    found = [n for e, n in _RATING_EMOJI.items() if e in text]
    return round(sum(found) / len(found)) if found else None


# -- acknowledgements, presence, questions ---------------------------------------------------

ACK_WORDS = {"ok", "oke", "okay", "okey", "okeh", "sip", "siap", "baik", "noted", "thanks", "makasih",
             "mksh", "thx", "ty", "tq", "terima kasih", "trims", "nuhun", "mantap", "mantab", "good",
             "great", "nice", "cool", "fine", "alright", "all right", "yup",
             "sip makasih", "oke makasih", "ok makasih", "ok thanks", "ok thank you", "thank you",
             "terimakasih", "hmm", "hm", "wkwk", "haha", "hehe", "oh", "oh gitu", "i see", "got it"}


def is_emoji_only(text: str) -> bool:
    """Only emoji, symbols and punctuation ("👍", "🙏🙏", "👌!")."""
    stripped = [c for c in text if not c.isspace()]
    return bool(stripped) and all(unicodedata.category(c)[0] in "SPM" or c in "\u200d\ufe0f"
                                  for c in stripped)


def is_ack(text: str) -> bool:
    """An emoji-only message or a one-word (or stock) acknowledgement: "ok", "sip", "makasih"."""
    return is_emoji_only(text) or normal(text) in ACK_WORDS


_PRESENCE = re.compile(r"(\bhalo+\b|\bhallo+\b|\bhello+\b|\bp\b|ada orang|ada yang bisa|ada petugas|"
                       r"masih di sana|anyone there|is anybody|is anyone|are you there|kok (diam|belum)|"
                       r"\bping\b|\?{2,}|^\W*\?+\W*$)", re.I)


def is_presence_probe(text: str) -> bool:
    """ "halo?", "tolong dong, ada orang?", "anyone there?": asking whether someone listens."""
    return bool(_PRESENCE.search(text.strip()))


_EMERGENCY_WORDS = re.compile(
    r"\b(darurat|kebakaran|terbakar|api|kecelakaan|tabrakan|ambulans|ambulan|polisi|maling|"
    r"rampok|begal|pingsan|sekarat|berdarah|tenggelam|hanyut|longsor|gempa|banjir bandang|"
    r"korban|meninggal|luka|serangan jantung|112|110|113|118|119|emergency|fire|accident|"
    r"ambulance|police|bleeding|drowning|dying|injured|robbery|help me)\b", re.I)


def sounds_like_emergency(text: str) -> bool:
    """Words of a real emergency; "tolong dong, ada orang?" is a plea for attention, not one."""
    return bool(_EMERGENCY_WORDS.search(text)) or not is_presence_probe(text)


_QUESTION_START = re.compile(
    r"^\s*(berapa|kapan|bagaimana|gimana|gmn|apakah|apa|kenapa|mengapa|siapa|bisakah|bisa|boleh|"
    r"how|when|what|why|who|can|could|is|are|do|does|will)\b", re.I)


def is_question(text: str) -> bool:
    """A question (a question mark, or starts with a question word)."""
    return text.strip().endswith("?") or bool(_QUESTION_START.search(text))


_HOW_LONG = re.compile(r"\b(berapa lama|kapan (biasanya |kira-kira |bisa |akan |mau )?(di|akan )?\w*"
                       r"(tangani|proses|perbaiki|selesai|beres|tindaklanjuti)|"
                       r"lama(nya)? (ditangani|diproses|penanganan)|how long|when will|"
                       r"when (do|does|is|are) (it|they|this|these|complaints?|reports?) (usually )?"
                       r"(get |be )?(fixed|repaired|handled|processed|resolved))\b", re.I)


def asks_how_long(text: str) -> bool:
    """ "berapa lama biasanya ditangani?", "how long does it take?" """
    return bool(_HOW_LONG.search(text))


# -- places ---------------------------------------------------------------------------------

_PLACE = re.compile(
    r"(\b(jl|jln|jalan|gang|gg|lorong|komplek|kompleks|komp|perum|perumahan|blok|rt|rw|kel|"
    r"kelurahan|kec|kecamatan|desa|dusun|kampung|kp|no|nomor|km|kav|simpang|perempatan|pertigaan|"
    r"bundaran|pasar|masjid|musholla|gereja|sekolah|sd|smp|sma|kampus|stasiun|terminal|halte|"
    r"taman|alun-alun|jembatan|kantor|puskesmas|rumah sakit|rs|mall|indomaret|alfamart|"
    r"street|st|road|rd|avenue|ave|lane|near|opposite|behind|next to|in front of|corner|"
    r"depan|belakang|samping|sebelah|dekat|deket|dkt|seberang|ujung|pojok|arah|sekitar)\b"
    r"|\b\d{1,3}\s*/\s*\d{1,3}\b)",                 # RT/RW "03/05"
    re.I)
# A proper name alone: "Margonda Raya", "Taman Suropati".
_PLACE_NAME = re.compile(r"^[A-Z][\w.'-]*(\s+[A-Z0-9][\w.'-]*){0,5}\W*$")
_STORY = re.compile(
    r"\b(sudah|udah|sejak|selama|mati|rusak|bocor|mampet|banjir|tumbang|berlubang|bau|gelap|numpuk|"
    r"tidak|gak|ga|belum|hari|minggu|bulan|malam|kemarin|has|have|been|is|are|was|broken|off|since|"
    r"for|week|days?|smells?|flooded|blocked|dark)\b", re.I)


def looks_like_place(text: str) -> bool:
    """Does an answer to "where is it?" look like a place: an address, a landmark, "deket pasar"?

    A description ("sudah 3 malam lampu PJU di gang kami mati semua, gelap"; "the light on my
    street has been off for a week") has story words and no address words, or story words
    that outweigh them.
    """
    t = text.strip()
    if not t:
        return False
    has_place = bool(_PLACE.search(t)) or bool(_PLACE_NAME.match(t))
    story = len(_STORY.findall(t))
    if not has_place:
        return story == 0 and len(t.split()) <= 4
    # "Jl. Kenanga depan masjid, sudah rusak" is still mainly an address; a sentence that is
    # mostly story with "gang kami" in it is a description.
    addressed = bool(re.search(r"\b(jl|jln|jalan|street|road|rt|rw)\b\.?\s*\S", t, re.I))
    return story <= 1 or len(t.split()) <= 3 or (addressed and story <= 2)


# Words that steer the dialogue and never belong in a complaint's description.
CONTROL_WORDS = SKIP_WORDS | MORE_WORDS | ACK_WORDS | {
    "batal", "cancel", "menu", "kirim", "send", "ubah", "change", "lanjut", "lanjutkan", "continue",
    "y", "n", "no", "tidak", "gak", "ga", "nggak", "back", "kembali"}


def is_control(text: str) -> bool:
    """A steering word ("lewati", "kirim", "ok", "batal") or an acknowledgement."""
    return normal(text) in CONTROL_WORDS or is_emoji_only(text)
