"""The console's "Latih bot" pages: admins only, the inbox masks and teaches, every change recorded."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Message, NluChange, NluExample, NluReview
from bot.training.inbox import mask
from tests.bot.citizen import WebCitizen
from tests.bot.training.data import PASSWORD

MISUNDERSTOOD = "lebu kabeh nang pinggir kali ra diresiki, hubungi 081234567890 atau nik 3171234567890123"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def login(client: Any, username: str) -> str:
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    assert client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf": token}).status_code == 302
    return csrf_of(client.get("/console/").get_data(as_text=True))


def test_masking_hides_phone_numbers_nik_and_email():
    assert mask("nik 3171234567890123, wa +62 812-3456-7890, a.b@kota.go.id ok") == \
        "nik [NIK], wa [telepon], [email] ok"


@pytest.mark.parametrize("who", ["sari", "lukas"])
def test_only_admins_see_or_change_anything(app, who):
    client = app.test_client()
    csrf = login(client, who)
    for path in ("/console/nlu/", "/console/nlu/intents", "/console/nlu/models", "/console/nlu/history",
                 "/console/nlu/intents/greet"):
        assert client.get(path).status_code == 404, path
    for path in ("/console/nlu/models/train", "/console/nlu/intents", "/console/nlu/models/rollback",
                 "/console/nlu/inbox/1"):
        assert client.post(path, data={"csrf": csrf, "name": "x_y"}).status_code == 404, path
    assert "Latih bot" not in client.get("/console/").get_data(as_text=True)
    with app.extensions["warga"].sessions() as s:
        assert s.scalars(select(NluChange.kind)).all() in ([], ["seeded"])


def test_the_inbox_shows_a_misunderstood_message_masked_and_a_correction_teaches_it(app):
    citizen = WebCitizen(app.test_client())
    citizen.say(MISUNDERSTOOD)
    client = app.test_client()
    csrf = login(client, "admin")
    page = client.get("/console/nlu/").get_data(as_text=True)
    assert "lebu kabeh nang pinggir kali" in page and "di bawah ambang" in page
    assert "081234567890" not in page and "3171234567890123" not in page and "[telepon]" in page
    with app.extensions["warga"].sessions() as s:
        msg_id = s.scalar(select(Message.id).where(Message.direction == "in", Message.text == MISUNDERSTOOD))
    r = client.post(f"/console/nlu/inbox/{msg_id}", data={
        "csrf": csrf, "decision": "corrected", "intent": "report_garbage",
        "entities": '[{"entity": "location", "start": 16, "end": 28}]'})
    assert r.status_code == 302
    with app.extensions["warga"].sessions() as s:
        example = s.scalar(select(NluExample).where(NluExample.origin == "inbox"))
        assert example.intent == "report_garbage" and example.split == "train"
        assert "[telepon]" in example.text and "[NIK]" in example.text
        assert example.entities[0]["text"] == "pinggir kali"
        assert s.scalar(select(NluReview.decision)) == "corrected"
        change = s.scalars(select(NluChange).order_by(NluChange.id.desc())).first()
        assert change.kind == "inbox_corrected" and change.actor == "staff:admin"
    assert "lebu kabeh" not in client.get("/console/nlu/").get_data(as_text=True)   # decided: gone
    bad = client.post(f"/console/nlu/inbox/{msg_id}", data={"csrf": csrf, "decision": "confirmed"},
                      follow_redirects=True)
    assert bad.status_code == 200 and "sudah diputuskan" in bad.get_data(as_text=True)


def test_examples_and_intents_are_edited_with_clear_errors(app):
    client = app.test_client()
    csrf = login(client, "admin")
    r = client.post("/console/nlu/intents", data={"csrf": csrf, "name": "Bad Name!"}, follow_redirects=True)
    assert r.status_code == 200 and "huruf kecil" in r.get_data(as_text=True)
    client.post("/console/nlu/intents", data={"csrf": csrf, "name": "ask_parking_permit", "description": "<b>x</b>"})
    page = client.get("/console/nlu/intents").get_data(as_text=True)
    assert "ask_parking_permit" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    client.post("/console/nlu/intents/ask_parking_permit/examples",
                data={"csrf": csrf, "text": "cara urus izin parkir <script>"})
    page = client.get("/console/nlu/intents/ask_parking_permit").get_data(as_text=True)
    assert "cara urus izin parkir &lt;script&gt;" in page
    with app.extensions["warga"].sessions() as s:
        ex_id = s.scalar(select(NluExample.id).where(NluExample.intent == "ask_parking_permit"))
    r = client.post(f"/console/nlu/examples/{ex_id}", data={"csrf": csrf, "back": "ask_parking_permit",
                                                            "intent": "ask_parking_permit", "text": "",
                                                            "entities": "not json"}, follow_redirects=True)
    assert r.status_code == 200 and "tidak valid" in r.get_data(as_text=True)
    client.post(f"/console/nlu/examples/{ex_id}", data={"csrf": csrf, "back": "x", "delete": "1"})
    history = client.get("/console/nlu/history").get_data(as_text=True)
    assert "example_deleted" in history and "intent_added" in history and "staff:admin" in history


def test_the_inbox_says_why_a_message_is_there_and_filters_by_reason_and_intent(app):
    from bot.training import inbox

    citizen = WebCitizen(app.test_client())
    citizen.say("lebu kabeh nang pinggir kali ra diresiki")
    citizen.say("saya mau bicara dengan petugas saja")
    WebCitizen(app.test_client()).say("selamat pagi")
    rt = app.extensions["warga"]
    with rt.sessions() as s:
        found, per_reason, _ = inbox.items(s, rt.settings)
        by_text = {it.text: it for it in found}
        first = by_text["lebu kabeh nang pinggir kali ra diresiki"]
        assert {"below_threshold", "then_human"} <= set(first.reasons)
        assert "selamat pagi" not in by_text                     # understood with confidence: not shown
        only_human, _, _ = inbox.items(s, rt.settings, reason="then_human")
        assert [it.text for it in only_human] == [first.text]
        assert inbox.items(s, rt.settings, intent="greet")[0] == []
        assert per_reason["then_human"] == 1


def test_the_nlu_pages_read_in_english(app):
    WebCitizen(app.test_client()).say(MISUNDERSTOOD)
    client = app.test_client()
    csrf = login(client, "admin")
    assert client.get("/console/language/en").status_code == 302
    page = client.get("/console/nlu/").get_data(as_text=True)
    for words in ("NLU inbox", "below the threshold", "The right intent", "Dismiss", "Model versions"):
        assert words in page, words
    for words in ("Kotak masuk NLU", "di bawah ambang", "Intent yang benar", "Abaikan"):
        assert words not in page, words
    models = client.get("/console/nlu/models").get_data(as_text=True)
    assert "Return to the previous version" in models and "Kembalikan versi sebelumnya" not in models
    intents = client.get("/console/nlu/intents").get_data(as_text=True)
    assert "Add intent" in intents and "Tambah intent" not in intents
    added = client.post("/console/nlu/intents/greet/examples", data={"csrf": csrf, "text": "hello there friend"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Example added." in added and "Add example" in added and "Contoh ditambahkan." not in added


def test_a_complaint_staff_re_categorise_brings_its_message_to_the_inbox(app):
    """Issue 13: "re-categorised by staff on a complaint" is a reason to look at a message. A
    complaint filed from a message whose intent matches its category is no reason; once staff
    correct the category on the complaint page, the message is in the inbox, saying why."""
    from bot.store.models import Complaint

    text = "sampah menumpuk di pinggir jalan mawar sudah seminggu tidak diangkut"
    citizen = WebCitizen(app.test_client())
    citizen.say(text)
    client = app.test_client()
    csrf = login(client, "admin")
    rt = app.extensions["warga"]
    with rt.sessions() as s:
        msg = s.scalars(select(Message).where(Message.direction == "in", Message.text == text)).one()
        msg_id, conv_id = msg.id, msg.conversation_id
        assert msg.nlu["intent"] == "report_garbage", msg.nlu      # understood: no reason yet
    filed = client.post(f"/console/conversations/{conv_id}/complaint", data={
        "csrf": csrf, "category": "garbage", "message": str(msg_id), "location_text": "jalan mawar"})
    assert filed.status_code == 302
    with rt.sessions() as s:
        ticket = s.scalars(select(Complaint.ticket).where(Complaint.source_message_id == msg_id)).one()
    assert text not in client.get("/console/nlu/").get_data(as_text=True)

    edited = client.post(f"/console/complaints/{ticket}/edit", data={
        "csrf": csrf, "category": "drainage", "description": text, "location_text": "jalan mawar"})
    assert edited.status_code == 302
    page = client.get("/console/nlu/?reason=recategorised").get_data(as_text=True)
    assert text in page and "kategori diubah petugas" in page
