"""An address as complaints are compared by: spelling set aside.

Kept with the models because a complaint stores it (``Complaint.location_key``), so the search
for an open complaint at the same place is an indexed equality rather than a scan of every
complaint on the street (bot/casework/duplicates.py).
"""

from __future__ import annotations

import re

# Spellings of the same word in Indonesian addresses, mapped to one of them.
ABBREVIATIONS = {"jalan": "jl", "jln": "jl", "gang": "gg", "nomor": "no", "nomer": "no", "nmr": "no",
                 "kelurahan": "kel", "kecamatan": "kec"}


def normal_place(text: str | None) -> str:
    """An address as compared: lower case, no punctuation, one space, "Jalan"/"Jln"/"Jl." as "jl".

    >>> normal_place("JL.  Cikini Raya, No.5") == normal_place("jalan cikini raya no 5")
    True
    """
    if not text:
        return ""
    words = re.sub(r"[\W_]+", " ", text.lower()).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)
