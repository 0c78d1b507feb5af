"""Word table for the classifier's features: English → Indonesian words.

Most training examples are Indonesian and about one in six is English, so an English message
shares few n-grams with the examples of its intent. Adding the Indonesian word next to each
English domain word ("pothole" → "pothole lubang") lets English messages use what the
Indonesian examples taught: +3.5 points of cross-validated accuracy on Warga's data
(docs/BENCHMARKS.md). Only the classifier sees these words; language detection does not.

The "concept families" that used to live here (words by meaning, e.g. every word for a gutter
added a ``_drain`` token) were written while reading cross-validation errors: 85 of their 302
entries occurred in exactly one training example. They raised cross-validation accuracy and
lowered held-out accuracy (issue 14, docs/BENCHMARKS.md), so they were removed; Indonesian
stems (:mod:`nlu.stemming`) generalise across word forms instead.
"""

from __future__ import annotations

from collections.abc import Mapping

#: English word → Indonesian word(s) appended to the classifier's tokens.
EN_ID: Mapping[str, str] = {
    "hello": "halo", "hi": "hai", "hey": "hai", "morning": "pagi", "evening": "malam",
    "afternoon": "siang", "night": "malam", "bye": "dadah", "goodbye": "dadah", "later": "nanti",
    "thanks": "terima kasih", "thank": "terima kasih", "appreciate": "terima kasih", "yes": "ya",
    "yeah": "ya", "yep": "ya", "sure": "boleh", "correct": "benar", "right": "benar",
    "no": "tidak", "nope": "tidak", "not": "tidak", "cancel": "batal", "forget": "lupakan",
    "human": "manusia", "person": "orang", "people": "orang", "agent": "petugas",
    "officer": "petugas", "staff": "petugas", "talk": "bicara", "speak": "bicara",
    "chat": "ngobrol", "real": "asli", "help": "bantuan", "complaint": "laporan",
    "report": "lapor", "check": "cek", "track": "lacak", "road": "jalan", "street": "jalan",
    "pothole": "lubang", "potholes": "lubang", "hole": "lubang", "holes": "lubang",
    "asphalt": "aspal", "sidewalk": "trotoar", "pavement": "trotoar", "broken": "rusak",
    "damaged": "rusak", "cracked": "retak", "flood": "banjir", "flooded": "banjir",
    "flooding": "banjir", "water": "air", "river": "kali", "overflowing": "meluap",
    "rain": "hujan", "drain": "selokan", "drains": "selokan", "gutter": "got", "gutters": "got",
    "sewer": "saluran", "culvert": "gorong", "clogged": "mampet", "blocked": "tersumbat",
    "garbage": "sampah", "trash": "sampah", "rubbish": "sampah", "waste": "limbah",
    "dumping": "buang", "dumped": "buang", "light": "lampu", "lights": "lampu", "lamp": "lampu",
    "streetlight": "lampu", "dark": "gelap", "flickering": "kedip", "pole": "tiang",
    "tree": "pohon", "trees": "pohon", "branch": "dahan", "branches": "dahan",
    "fallen": "tumbang", "fell": "tumbang", "cable": "kabel", "cables": "kabel",
    "parking": "parkir", "parked": "parkir", "attendant": "jukir", "car": "mobil",
    "cars": "mobil", "traffic": "lalu lintas", "sign": "rambu", "signs": "rambu",
    "marking": "marka", "markings": "marka", "vendor": "pedagang", "vendors": "pedagang",
    "hawker": "pedagang", "hawkers": "pedagang", "stall": "lapak", "stalls": "lapak",
    "park": "taman", "toilet": "toilet", "playground": "taman", "footbridge": "jembatan",
    "bridge": "jembatan", "smoke": "asap", "burning": "bakar", "noise": "bising",
    "noisy": "bising", "smell": "bau", "smells": "bau", "stink": "bau", "pollution": "polusi",
    "factory": "pabrik", "bribe": "pungli", "bribery": "pungli", "levy": "pungli",
    "rude": "kasar", "slow": "lambat", "service": "pelayanan", "office": "kantor",
    "queue": "antre", "card": "kartu", "family": "keluarga", "birth": "lahir",
    "death": "kematian", "certificate": "akta", "move": "pindah", "moving": "pindah",
    "domicile": "domisili", "hours": "jam", "open": "buka", "closed": "tutup", "tax": "pajak",
    "vehicle": "kendaraan", "insurance": "asuransi", "health": "kesehatan", "aid": "bantuan",
    "assistance": "bantuan", "permit": "izin", "license": "izin", "business": "usaha",
    "emergency": "darurat", "fire": "kebakaran", "ambulance": "ambulans", "police": "polisi",
    "accident": "kecelakaan", "how": "bagaimana", "where": "dimana", "when": "kapan",
    "what": "apa", "requirements": "syarat", "need": "perlu", "renew": "perpanjang",
    "lost": "hilang", "new": "baru", "register": "daftar", "my": "saya", "i": "saya",
    "you": "kamu", "please": "tolong", "want": "mau", "status": "status", "ticket": "tiket",
}
