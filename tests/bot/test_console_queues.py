"""Handover queues (issue 12, item 5): a waiting conversation is queued by the agency of its
topic, else in the intake queue; staff see and work only the queues they serve; the live
transcript endpoint and canned replies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.casework.canned_replies import canned_replies
from bot.casework.queues import reason_in_words
from bot.store.models import Conversation, StaffUser
from tests.bot.citizen import WebCitizen, file_complaint
from tests.bot.staff_accounts import add_user, login

ROADS = "Dinas Bina Marga"
PARKS = "Dinas Lingkungan Hidup"


@pytest.fixture
def staffed(app: Any) -> Any:
    add_user(app, "admin", "admin")
    add_user(app, "sari", "supervisor")
    add_user(app, "dina", "staff", ROADS)                 # roads only
    add_user(app, "lukas", "staff", PARKS, intake=True)   # another agency, and intake
    return app


def handed_over(app: Any, citizen: WebCitizen) -> Conversation:
    with app.extensions["warga"].sessions() as s:
        conv = s.scalars(select(Conversation).where(Conversation.handover.is_(True))
                         .order_by(Conversation.id.desc())).first()
        assert conv is not None
        return conv


def test_a_handover_about_a_known_topic_waits_in_that_agencys_queue_else_in_intake(staffed, client):
    about_roads = WebCitizen(client)
    about_roads.say("jalan berlubang besar di depan sekolah")      # the bot asks where: a road draft
    about_roads.say("saya mau bicara dengan petugas")
    roads_conv = handed_over(staffed, about_roads)
    unknown = WebCitizen(client)
    unknown.say("saya mau bicara dengan petugas")
    intake_conv = handed_over(staffed, unknown)
    assert (roads_conv.handover_agency, intake_conv.handover_agency) == (ROADS, None)

    dina = staffed.test_client()
    login(dina, "dina")
    page = dina.get("/console/conversations").get_data(as_text=True)
    assert f'id="queue-{roads_conv.id}"' in page and f'id="queue-{intake_conv.id}"' not in page
    assert "warga minta petugas" in page and "belum ada" in page      # reason in words; nobody took it
    assert "saya mau bicara dengan petugas" in page                    # the last citizen message
    assert "Menunggu petugas <b>1</b>" in dina.get("/console/").get_data(as_text=True)   # her queues only

    login(client, "lukas")
    page = client.get("/console/conversations").get_data(as_text=True)
    assert f'id="queue-{intake_conv.id}"' in page and f'id="queue-{roads_conv.id}"' not in page
    assert "Antrean umum" in page

    sari = staffed.test_client()
    login(sari, "sari")
    page = sari.get("/console/conversations").get_data(as_text=True)
    assert f'id="queue-{roads_conv.id}"' in page and f'id="queue-{intake_conv.id}"' in page


def test_a_handover_after_a_filed_complaint_goes_to_that_complaints_agency(staffed, client):
    citizen, _ = file_complaint(client, "sampah menumpuk di pinggir jalan sudah seminggu")
    citizen.say("saya mau bicara dengan petugas")
    assert handed_over(staffed, citizen).handover_agency == PARKS


def test_staff_get_404_for_a_conversation_outside_their_queues(staffed, client):
    unknown = WebCitizen(client)
    unknown.say("saya mau bicara dengan petugas")
    conv_id = handed_over(staffed, unknown).id
    csrf = login(client, "dina")                                  # roads; not intake
    assert client.get(f"/console/conversations/{conv_id}").status_code == 404
    assert client.get(f"/console/conversations/{conv_id}/messages?after=0").status_code == 404
    assert client.post(f"/console/conversations/{conv_id}/take", data={"csrf": csrf}).status_code == 404
    assert client.post(f"/console/conversations/{conv_id}/reply",
                       data={"csrf": csrf, "text": "halo"}).status_code == 404
    with staffed.extensions["warga"].sessions() as s:
        conv = s.get(Conversation, conv_id)
        assert conv is not None and conv.state["handover"].get("staff") is None   # nothing changed


def test_taking_shows_who_has_it_and_the_messages_endpoint_returns_only_newer_ones(staffed, client):
    citizen = WebCitizen(client)
    citizen.say("saya mau bicara dengan petugas")
    conv_id = handed_over(staffed, citizen).id
    csrf = login(client, "lukas")
    assert client.post(f"/console/conversations/{conv_id}/take", data={"csrf": csrf}).status_code == 302
    assert "lukas" in client.get("/console/conversations").get_data(as_text=True)

    first = client.get(f"/console/conversations/{conv_id}/messages?after=0").get_json()
    assert first["handover"] == {"reason": "requested", "taken_by": "lukas"}
    last_id = first["messages"][-1]["id"]
    sent = citizen.client.post("/api/v1/chat/messages", json={"sender": citizen.sender, "id": "live-msg-1",
                                                              "text": "<b>halo</b> masih di sana?"})
    assert sent.status_code == 200 and sent.get_json()["replies"] == []     # the bot stays quiet
    newer = client.get(f"/console/conversations/{conv_id}/messages?after={last_id}").get_json()["messages"]
    assert [(m["direction"], m["text"]) for m in newer] == [("in", "<b>halo</b> masih di sana?")]
    assert client.get(f"/console/conversations/{conv_id}/messages?after=x").status_code == 400


def test_canned_replies_follow_the_conversations_language(staffed, client):
    english = WebCitizen(client)
    english.say("I want to talk to a human officer")
    conv = handed_over(staffed, english)
    assert conv.language == "en"
    login(client, "lukas")
    page = client.get(f"/console/conversations/{conv.id}").get_data(as_text=True)
    assert "How can I help you?" in page and "Ada yang bisa saya bantu?" not in page


def test_canned_replies_file_per_language_and_a_broken_file_gives_none(tmp_path: Path):
    (tmp_path / "canned_replies.yml").write_text(
        "- {title: Halo, id: 'Halo, ada yang bisa dibantu?', en: 'Hello, how can I help?'}\n"
        "- {title: Hanya ID, id: 'Hanya bahasa Indonesia'}\n", encoding="utf-8")
    assert [r.text for r in canned_replies(tmp_path, "en")] == ["Hello, how can I help?", "Hanya bahasa Indonesia"]
    assert [r.text for r in canned_replies(tmp_path, "id")][0] == "Halo, ada yang bisa dibantu?"
    (tmp_path / "canned_replies.yml").write_text("{{ not yaml", encoding="utf-8")
    assert canned_replies(tmp_path, "id") == []
    assert canned_replies(tmp_path / "missing", "id") == []


def test_reasons_are_words_in_the_consoles_language():
    assert reason_in_words("not_understood") == "bot tidak paham 2x"
    assert reason_in_words("angry", "en") == "citizen is angry"
    assert reason_in_words("something_new") == "something_new"


def test_the_console_switches_to_english_and_back(staffed, client):
    login(client, "lukas")
    assert "Menunggu petugas" in client.get("/console/conversations").get_data(as_text=True)
    r = client.get("/console/language/en?next=/console/conversations")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/conversations")
    page = client.get("/console/conversations").get_data(as_text=True)
    assert "Waiting for staff" in page and "Transcripts" in page and '<html lang="en">' in page
    assert client.get("/console/language/en?next=https://evil.example/").headers["Location"].endswith("/console/")
    assert client.get("/console/language/fr").status_code == 404
    client.get("/console/language/id")
    assert "Menunggu petugas" in client.get("/console/conversations").get_data(as_text=True)


def test_serving_intake_can_be_switched_off(staffed, client):
    unknown = WebCitizen(client)
    unknown.say("saya mau bicara dengan petugas")
    conv_id = handed_over(staffed, unknown).id
    login(client, "lukas")
    assert client.get(f"/console/conversations/{conv_id}").status_code == 200
    with staffed.extensions["warga"].sessions() as s, s.begin():
        s.scalars(select(StaffUser).where(StaffUser.username == "lukas")).one().serves_intake = False
    assert client.get(f"/console/conversations/{conv_id}").status_code == 404


def test_the_pages_polling_does_not_keep_an_unattended_console_signed_in(staffed, client):
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    staffed.extensions["warga.clock"] = lambda: now[0]
    citizen = WebCitizen(client)
    citizen.say("saya mau bicara dengan petugas")
    conv_id = handed_over(staffed, citizen).id
    login(client, "lukas")
    for _ in range(3):                                  # polls for 90 minutes (idle limit: 60)
        now[0] += timedelta(minutes=30)
        poll = client.get(f"/console/conversations/{conv_id}/messages?after=0")
    assert poll.status_code == 302                      # signed out: the page stops polling
    assert client.get("/console/").status_code == 302


def test_the_queue_shows_how_long_the_citizen_has_waited(staffed, client):
    import re
    from datetime import timedelta

    from bot.store.models import utcnow

    citizen = WebCitizen(client)
    citizen.say("saya mau bicara dengan petugas")
    conv_id = handed_over(staffed, citizen).id
    staffed.extensions["warga.clock"] = lambda: utcnow() + timedelta(hours=2, minutes=5)
    login(client, "lukas")
    page = client.get("/console/conversations").get_data(as_text=True)
    row = page[page.index(f'id="queue-{conv_id}"'):]
    assert re.search(r"<td[^>]*>2 j 0\d m</td>", row[:800]), row[:800]
