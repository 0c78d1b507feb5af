"""Long first messages end to end (issue 11 item 7, issue 14 item 1): through the web chat API
and a Telegram webhook, with the real NLU model, the workers and the database.

The cases one by one (wordings, both languages, every kind of question) are in
tests/dialogue/test_long_messages.py and, through a real model, tests/nlu/test_long_messages.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.channel_citizens import make_citizen
from tests.bot.citizen import WebCitizen, complaint, ticket_in

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_web_chat_a_complaint_with_a_question_is_filed_and_the_question_answered(app: Any, client: Any) -> None:
    citizen = WebCitizen(client)
    replies = citizen.say(
        "Selamat pagi min. Saluran got di Jl. Pisangan Lama III RT 08/RW 02 mampet dan airnya hitam meluber ke "
        "rumah warga sejak 4 hari. Berapa lama biasanya laporan seperti ini ditangani ya? Terima kasih 🙏")
    # The question is answered (drainage: 6 hours to respond, 7 days to resolve in config.yml)...
    assert len(replies) == 2, replies
    assert "6 jam" in replies[0] and "7 hari" in replies[0]
    # ... and the filing goes on: category, description and place were in the message.
    assert "kirim foto" in replies[1]
    summary = citizen.say("lewati")[0]
    assert "Jl. Pisangan Lama III RT 08/RW 02" in summary
    ticket = ticket_in(citizen.say(button="yes")[0])
    c = complaint(app, ticket)
    assert c.category == "drainage"
    assert c.location_text == "Jl. Pisangan Lama III RT 08/RW 02"
    assert c.description == ("Saluran got di Jl. Pisangan Lama III RT 08/RW 02 mampet dan airnya hitam meluber "
                             "ke rumah warga sejak 4 hari.")


@SQLITE_ONLY
def test_telegram_a_complaint_wrapped_in_greetings_and_thanks_is_filed_as_written(
        provider_app: Any, provider_client: Any, fakes: Any) -> None:
    citizen = make_citizen("telegram", provider_app, provider_client, fakes)
    replies = citizen.say(
        "Assalamualaikum wr. wb. Selamat pagi Bapak/Ibu. Mohon izin melapor, jalan di Jl. Anggrek Neli Murni "
        "No. 8 RT 04/RW 09 Kel. Kemanggisan berlubang sangat dalam, dekat masjid Al-Ikhlas, sudah 3 minggu belum "
        "diperbaiki. Mohon ditindaklanjuti. Terima kasih banyak, wassalamualaikum.")
    # Nothing the citizen wrote is asked again: only the photo.
    assert len(replies) == 1 and "kirim foto" in replies[0], replies
    summary = citizen.say("lewati")[-1]
    assert "Kirim laporan ini?" in summary and "Kategori: Jalan rusak" in summary
    ticket = ticket_in(citizen.say(button="yes")[0])
    c = complaint(provider_app, ticket)
    assert c.category == "road_damage"
    assert c.location_text == ("Jl. Anggrek Neli Murni No. 8 RT 04/RW 09 Kel. Kemanggisan, "
                               "dekat masjid Al-Ikhlas")
    assert c.description == ("jalan di Jl. Anggrek Neli Murni No. 8 RT 04/RW 09 Kel. Kemanggisan berlubang "
                             "sangat dalam, dekat masjid Al-Ikhlas, sudah 3 minggu belum diperbaiki.")
