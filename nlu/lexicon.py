"""Word tables for the classifier's features: English → Indonesian words, and concept families.

Most training examples are Indonesian and about one in six is English, so an English message
shares few n-grams with the examples of its intent. Adding the Indonesian word next to each
English domain word ("pothole" → "pothole lubang") lets English messages use what the
Indonesian examples taught: +3.5 points of cross-validated accuracy on Warga's data
(docs/BENCHMARKS.md). Only the classifier sees these words; language detection does not.
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

#: Words by meaning. Short replies ("hooh", "punten", "emoh", "abort") are many and each is
#: rare, and complaints name one problem many ways ("got", "selokan", "drainase", "gutter"), so a
#: classifier sees most of these once or never; a concept token added next to any of them lets
#: one learned weight cover the whole family. Matched on normalised tokens (after
#: :data:`nlu.normalize.SLANG`), phrases as whole-token sequences. Measured: +3 points of
#: cross-validated accuracy (docs/BENCHMARKS.md). Measure any change with
#: `warga nlu evaluate --engine sklearn` and the held-out set: intuition misled twice here
#: (dropping "tidak"/"belum" from "refusal" and adding bot-identity/handover families both
#: lowered accuracy).
CONCEPTS: Mapping[str, tuple[str, ...]] = {
    "greeting": (
        "halo", "hai", "hi", "hello", "hey", "helo", "hallo", "woy", "woi", "oi", "p", "ping", "punten",
        "permisi", "assalamualaikum", "assalamu alaikum", "salam", "selamat pagi", "selamat siang",
        "selamat sore", "selamat malam", "pagi", "siang", "sore", "malam", "malem", "good morning",
        "good afternoon", "good evening", "yo", "start", "mulai", "sampurasun", "kulonuwun",
    ),
    "farewell": (
        "dadah", "bye", "babay", "bye bye", "daah", "dah ya", "see you", "see ya", "sampai jumpa",
        "sampai ketemu", "selamat tinggal", "wassalam", "wassalamualaikum", "pamit", "duluan",
        "good night", "take care", "catch you later", "later", "met istirahat", "selamat istirahat",
        "selamat malam ya",
    ),
    "gratitude": (
        "terima kasih", "thanks", "thank you", "tengkyu", "kamsia", "hatur nuhun", "matur nuwun",
        "cheers", "appreciate", "makaciih", "makaci", "nuhun", "suwun", "thank",
    ),
    "agreement": (
        "ya betul", "yes", "yup", "yoi", "oke", "siap", "setuju", "betul", "benar", "bener", "hooh", "he eh",
        "heeh", "mantap", "lanjut", "gas", "sure", "absolutely", "confirmed", "correct", "boleh",
        "sip", "okelah", "tentu", "pasti", "of course", "go ahead", "yes please", "yoa",
    ),
    "refusal": (
        "tidak", "bukan", "jangan", "ogah", "emoh", "no", "nope", "nah", "wrong", "salah", "belum",
        "kurang tepat", "tidak benar", "bukan itu", "not really", "negative", "nggak mau", "tidak mau",
    ),
    "stop": (
        "batal", "batalkan", "cancel", "tidak jadi", "stop", "berhenti", "sudahi", "udahan",
        "quit", "abort", "forget it", "urungkan", "reset", "ulang dari awal", "dari awal", "never mind",
        "nevermind", "changed my mind", "scrap", "tidak usah", "gausah", "ga usah", "exit",
    ),
    "guidance": (
        "help", "menu", "petunjuk", "panduan", "tutorial", "instructions", "opsi", "options",
        "perintah", "commands", "fitur", "cara pakai", "bisa apa", "what can you do", "how does this work",
        "bingung", "confused", "tidak ngerti", "tidak mengerti", "layanan apa",
    ),
    # Complaint topics: the words citizens use for one kind of problem, Indonesian and English.
    "road": (
        "lubang", "bolong", "berlubang", "lobang", "aspal", "amblas", "ambles", "retak", "jalan rusak",
        "trotoar rusak", "pothole", "potholes", "asphalt", "tambal", "jalan hancur", "bergelombang",
    ),
    "flood": (
        "banjir", "kebanjiran", "genangan", "tergenang", "rob", "meluap", "air masuk", "flood", "flooded",
        "flooding", "sepinggang", "sepaha", "selutut", "air naik",
    ),
    "drain": (
        "got", "selokan", "saluran", "gorong gorong", "drainase", "mampet", "tersumbat", "tutup got",
        "drain", "gutter", "sewer", "culvert", "saluran air",
    ),
    "garbage": (
        "sampah", "tps", "tumpukan sampah", "buang sampah", "diangkut", "garbage", "trash", "rubbish",
        "truk sampah", "gerobak sampah",
    ),
    "streetlight": (
        "lampu jalan", "pju", "penerangan jalan", "tiang lampu", "lampu mati", "streetlight", "street light",
        "lampu penerangan", "kedip", "gelap gulita",
    ),
    "tree": ("pohon", "dahan", "ranting", "tumbang", "pangkas", "tree", "branch", "branches", "akar pohon"),
    "parking": ("parkir", "jukir", "juru parkir", "parkir liar", "derek", "parking", "parked", "tukang parkir"),
    "traffic": (
        "lampu merah", "lampu lalu lintas", "rambu", "marka", "lalu lintas", "apill", "traffic light",
        "lawan arah", "zebra cross", "traffic", "sign", "markings", "lalin",
    ),
    "vendor": ("pkl", "pedagang", "lapak", "kaki lima", "jualan", "berjualan", "vendor", "vendors", "hawker"),
    "facility": (
        "halte", "toilet umum", "jpo", "jembatan penyeberangan", "rptra", "ayunan", "bangku taman",
        "taman", "fasilitas umum", "bus stop", "playground", "footbridge", "wc umum",
    ),
    "pollution": (
        "asap", "bau", "bising", "limbah", "polusi", "pembakaran", "pabrik", "berisik", "smoke", "smell",
        "noise", "pollution", "menyengat",
    ),
    "misconduct": (
        "pungli", "pungutan liar", "suap", "sogok", "calo", "uang rokok", "dipersulit", "kasar", "bribe",
        "bribery", "extortion", "rude", "uang pelicin", "pelayanan",
    ),
}
