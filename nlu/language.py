"""Is a message Indonesian or English?

Messages are short and often mixed ("lampu jalan mati, please fix"), so a statistical language
identifier trained on long text guesses badly. Counting function words and typical affixes of each
language, after slang normalisation, is enough to pick the reply language, and it is explainable.
Ties go to the default language (Indonesian for an Indonesian city).
"""

from __future__ import annotations

from dataclasses import dataclass

from nlu.normalize import Normalizer

_ID_WORDS = frozenset(
    """
    yang di ke dari dan ini itu tidak sudah belum saya kamu kami kita ada untuk dengan bisa mau
    apa bagaimana kapan mana dimana siapa kenapa berapa tolong terima kasih banget dong sih kok
    ya tapi karena juga sangat pak bu bapak ibu min admin selamat pagi siang sore malam halo
    lagi masih dekat depan belakang samping rumah kantor cara syarat urus bikin buat jalan rusak
    banjir sampah lampu mati laporan lapor mohon atau jika kalau sama saja akan sedang harus
    boleh perlu minta pakai berapa hari jam buka tutup tiba pohon tumbang parkir liar macet
    pedagang kaki lima bau asap bising air got selokan saluran mampet tersumbat warga kota
    gang kelurahan kecamatan pajak bantuan kartu keluarga akta lahir kematian pindah izin usaha
    darurat kebakaran tidak enggak oke iya nggak gimana udah gak aja tuh nih deh kak mas mbak
    orang anak lubang berlubang bolong parah tolongin nya pun lah tahu belum terus status cek
    dapat sampai pernah benar salah baik bukan batal jadi daftar baru lama tanya info informasi
    """.split()
)

_EN_WORDS = frozenset(
    """
    the a an is are was were be been my your our their i you we they it this that these those
    there here what where when why how who which can could would should will shall do does did
    have has had please thanks thank hello hi hey not no yes of to in on at for with and or but
    from by about near street road broken light lights report complaint help bye good morning
    evening afternoon night want need make new get lost card tax office open hours status check
    ticket fix fixed trash garbage flood flooded tree fallen parking illegal noise smell dirty
    cancel human agent person talk speak bot robot am me again still already yet since just
    some any many much very too also only if then than because so up down out over after
    before while until into onto off all every each both few more most other such own same
    apply renew register certificate birth death family moving permit business insurance
    """.split()
)

# "hi", "ok", "status", "admin" and similar are used in both languages; they must not decide.
_SHARED = frozenset({"ok", "oke", "status", "admin", "info", "bye", "halo", "hi", "cek", "tiket", "ticket"})

_ID_PREFIXES = ("meng", "meny", "mem", "men", "ber", "ter", "per", "di")
_ID_SUFFIXES = ("nya", "kan", "lah", "kah")
_EN_SUFFIXES = ("ing", "tion", "ness", "ly")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """The detected language and the evidence for it."""

    language: str
    id_score: float
    en_score: float


_NORMALIZER = Normalizer()


def guess_language(text: str, default: str = "id") -> LanguageGuess:
    """Score ``text`` for Indonesian and English.

    Args:
        text: Any message, possibly mixed, with slang.
        default: The language for ties and for text with no evidence (emoji, numbers).

    Returns:
        The guess and both scores.
    """
    id_score = en_score = 0.0
    for tok in _NORMALIZER.tokens(text):
        if tok in _SHARED or tok.isdigit():
            continue
        in_id, in_en = tok in _ID_WORDS, tok in _EN_WORDS
        if in_id and not in_en:
            id_score += 1
        elif in_en and not in_id:
            en_score += 1
        elif not in_id and not in_en and len(tok) > 4:
            # Affixes are weaker evidence than a known word.
            if tok.startswith(_ID_PREFIXES) or tok.endswith(_ID_SUFFIXES):
                id_score += 0.5
            elif tok.endswith(_EN_SUFFIXES) or (tok.endswith("ed") and len(tok) > 5):
                en_score += 0.5
    if en_score > id_score:
        lang = "en"
    elif id_score > en_score:
        lang = "id"
    else:
        lang = default
    return LanguageGuess(lang, id_score, en_score)


def detect_language(text: str, default: str = "id") -> str:
    """``"id"`` or ``"en"`` for ``text`` (ties and no evidence → ``default``)."""
    return guess_language(text, default).language
