"""Telegram outbound: the Bot API calls a reply becomes, against a local fake Bot API."""

from __future__ import annotations

import pytest

from channels.base import Button, DeliveryStatus, Location, OutboundMessage, SendError
from channels.telegram import MAX_TEXT, TelegramChannel, callback_data_for
from channels.text_split import utf16_len
from tests.channels.telegram.support import LONG_PAYLOAD, TOKEN, out, sentences
from tests.fakes.fake_telegram import FakeTelegram


def test_send_text_makes_exactly_one_sendmessage(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    result = channel.send(out("Laporan Anda sudah kami terima. Nomor tiket: JKT-2024-000123."))
    [call] = fake_telegram.calls()
    assert call.method == "sendMessage" and call.token == TOKEN
    assert call.request.method == "POST" and call.request.path == f"/bot{TOKEN}/sendMessage"
    assert call.params == {"chat_id": "3527065",
                           "text": "Laporan Anda sudah kami terima. Nomor tiket: JKT-2024-000123."}
    assert result.status == DeliveryStatus.sent
    assert result.provider_message_ids == ("3527065:1001",)


def test_long_text_is_split_on_sentence_boundaries_in_order(channel: TelegramChannel,
                                                            fake_telegram: FakeTelegram) -> None:
    text = sentences(150)                       # about 11,000 characters
    result = channel.send(out(text))
    texts = [c.params["text"] for c in fake_telegram.calls("sendMessage")]
    assert len(texts) == 3 == len(result.provider_message_ids)
    assert all(utf16_len(t) <= MAX_TEXT for t in texts)
    assert all(t.endswith("rinci.") for t in texts)
    assert " ".join(texts) == text
    assert result.note == "sent as 3 messages"


def test_split_counts_utf16_units_like_telegram(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    text = "Terima kasih 🙏 " * 400                  # 6,400 characters but 6,800 UTF-16 units
    channel.send(out(text))
    texts = [c.params["text"] for c in fake_telegram.calls("sendMessage")]
    assert len(texts) == 2 and all(utf16_len(t) <= MAX_TEXT for t in texts)


def test_buttons_become_an_inline_keyboard(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    channel.send(out("Kirim laporan ini?", buttons=(Button("Ya", "confirm:yes"), Button("Tidak", "confirm:no"))))
    [call] = fake_telegram.calls("sendMessage")
    assert call.json_param("reply_markup") == {"inline_keyboard": [[
        {"text": "Ya", "callback_data": "confirm:yes"}, {"text": "Tidak", "callback_data": "confirm:no"}]]}


def test_long_choices_go_one_per_row_and_long_payloads_as_digests(channel: TelegramChannel,
                                                                  fake_telegram: FakeTelegram) -> None:
    buttons = (Button("Jalan rusak / berlubang", "category:jalan_rusak"),
               Button("Sampah menumpuk", "category:sampah"),
               Button("Ya, kirim", LONG_PAYLOAD))
    channel.send(out("Pilih kategori:", buttons=buttons))
    rows = fake_telegram.calls("sendMessage")[0].json_param("reply_markup")["inline_keyboard"]
    assert [len(r) for r in rows] == [1, 1, 1]
    data = [r[0]["callback_data"] for r in rows]
    assert data[:2] == ["category:jalan_rusak", "category:sampah"]
    assert data[2] == callback_data_for(LONG_PAYLOAD) and len(data[2].encode()) <= 64


def test_callback_data_for_is_stable_and_within_64_bytes() -> None:
    assert callback_data_for("category:sampah") == "category:sampah"
    assert callback_data_for("x" * 64) == "x" * 64
    for payload in ("x" * 65, "é" * 33, "sha256:short", LONG_PAYLOAD):
        data = callback_data_for(payload)
        assert data.startswith("sha256:") and len(data.encode()) <= 64
        assert data == callback_data_for(payload)
    assert callback_data_for("a" * 65) != callback_data_for("b" * 65)


def test_a_request_contact_button_becomes_a_reply_keyboard(channel: TelegramChannel,
                                                           fake_telegram: FakeTelegram) -> None:
    channel.send(out("Boleh kami minta nomor HP Anda?",
                     buttons=(Button("Bagikan nomor HP", "share_phone", kind="request_contact"),)))
    markup = fake_telegram.calls("sendMessage")[0].json_param("reply_markup")
    assert markup == {"keyboard": [[{"text": "Bagikan nomor HP", "request_contact": True}]],
                      "resize_keyboard": True, "one_time_keyboard": True}


def test_location_reply_with_keyboard_on_the_last_message(channel: TelegramChannel,
                                                          fake_telegram: FakeTelegram) -> None:
    result = channel.send(out("Kantor kelurahan terdekat:", location=Location(-6.1951, 106.8231),
                              buttons=(Button("Oke", "ok"),)))
    calls = fake_telegram.calls()
    assert [c.method for c in calls] == ["sendMessage", "sendLocation"]
    assert "reply_markup" not in calls[0].params
    assert calls[1].params["latitude"] == "-6.1951" and calls[1].params["longitude"] == "106.8231"
    assert calls[1].json_param("reply_markup") == {"inline_keyboard": [[{"text": "Oke", "callback_data": "ok"}]]}
    assert len(result.provider_message_ids) == 2


def test_photo_with_a_short_text_goes_as_one_captioned_photo(channel: TelegramChannel,
                                                             fake_telegram: FakeTelegram) -> None:
    channel.send(out("Petugas sudah memperbaiki jalan ini.", media_urls=("https://warga.example.go.id/m/1.jpg",)))
    [call] = fake_telegram.calls()
    assert call.method == "sendPhoto"
    assert call.params == {"chat_id": "3527065", "photo": "https://warga.example.go.id/m/1.jpg",
                           "caption": "Petugas sudah memperbaiki jalan ini."}


def test_photo_with_a_long_text_sends_text_then_photo(channel: TelegramChannel,
                                                      fake_telegram: FakeTelegram) -> None:
    channel.send(out(sentences(20), media_urls=("https://warga.example.go.id/m/1.jpg",)))
    calls = fake_telegram.calls()
    assert [c.method for c in calls] == ["sendMessage", "sendPhoto"]
    assert "caption" not in calls[1].params


def test_nothing_to_send_and_bad_recipients_are_refused_without_a_request(
        channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    with pytest.raises(SendError) as empty:
        channel.send(out("   "))
    assert empty.value.code == "empty" and not empty.value.retryable
    with pytest.raises(SendError) as bad:
        channel.send(OutboundMessage("telegram", "tel:+6281234567890", "Halo"))
    assert bad.value.code == "bad_recipient" and not bad.value.retryable
    assert fake_telegram.calls() == []


def test_answer_callback(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    assert channel.answer_callback("4382bfdwdsb323b2d9") is True
    assert channel.answer_callback("4382bfdwdsb323b2e0", text="Dicatat") is True
    calls = fake_telegram.calls("answerCallbackQuery")
    assert [c.params for c in calls] == [{"callback_query_id": "4382bfdwdsb323b2d9"},
                                         {"callback_query_id": "4382bfdwdsb323b2e0", "text": "Dicatat"}]
    fake_telegram.fail("answerCallbackQuery", 400,
                       "Bad Request: query is too old and response timeout expired or query ID is invalid")
    assert channel.answer_callback("old") is False
