"""Twilio outbound: SMS segments, WhatsApp's window and templates, against a local fake."""

from __future__ import annotations

import json

import pytest

from channels.base import Button, DeliveryStatus, Location, OutboundMessage, SendError
from channels.sms_segments import count_segments
from channels.twilio import TwilioChannel, twilio_channels
from tests.channels.twilio.support import (
    NOW,
    SID,
    STATUS,
    TOKEN,
    WA_TO,
    config,
    sms_out,
    wa_out,
)
from tests.fakes.fake_twilio import FakeTwilio


def test_send_sms_makes_exactly_the_expected_request(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    result = sms.send(sms_out("Laporan Anda diterima. Nomor tiket: JKT-2024-000123."))
    [created] = fake_twilio.messages
    request = created.request
    assert request.method == "POST" and request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.basic_auth() == (SID, TOKEN)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sorted(created.form) == sorted([
        ("To", "+6281234567890"), ("From", "+15005550006"),
        ("Body", "Laporan Anda diterima. Nomor tiket: JKT-2024-000123."), ("StatusCallback", STATUS)])
    assert result.provider_message_ids == (created.sid,) and result.status == DeliveryStatus.queued


def test_long_sms_is_split_into_parts_of_at_most_three_segments(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    text = " ".join(f"Langkah {i}: petugas memeriksa lokasi dan mencatat kerusakan." for i in range(25))
    result = sms.send(sms_out(text))
    bodies = [m.fields["Body"] for m in fake_twilio.messages]
    assert len(bodies) == len(result.provider_message_ids) == 4
    assert all(count_segments(b).segments <= 3 and count_segments(b).encoding == "GSM-7" for b in bodies)
    assert " ".join(bodies) == text


def test_an_emoji_makes_only_its_own_part_ucs2(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    text = "Terima kasih atas laporan Anda. " * 14 + "Semoga harimu menyenangkan 😊"
    sms.send(sms_out(text))
    infos = [count_segments(m.fields["Body"]) for m in fake_twilio.messages]
    assert [i.encoding for i in infos] == ["GSM-7", "UCS-2"]
    assert all(i.segments <= 3 for i in infos)


def test_smart_encoding_keeps_typographic_text_in_gsm7(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    sms.send(sms_out("Status “Proses” – petugas sedang menuju lokasi…"))
    body = fake_twilio.messages[0].fields["Body"]
    assert body == 'Status "Proses" - petugas sedang menuju lokasi...'
    assert count_segments(body).encoding == "GSM-7"


@pytest.mark.parametrize("language, lines", [
    (None, "Balas 1 untuk Jalan rusak\nBalas 2 untuk Sampah"),
    ("id", "Balas 1 untuk Jalan rusak\nBalas 2 untuk Sampah"),
    ("en", "Reply 1 for Jalan rusak\nReply 2 for Sampah"),
    ("jv", "Balas 1 untuk Jalan rusak\nBalas 2 untuk Sampah"),          # unknown: the Indonesian default
])
def test_buttons_degrade_to_numbered_lines(sms: TwilioChannel, fake_twilio: FakeTwilio, language: str | None,
                                           lines: str) -> None:
    sms.send(sms_out("Pilih kategori:", buttons=(Button("Jalan rusak", "category:jalan_rusak"),
                                                 Button("Sampah", "category:sampah")), language=language))
    assert fake_twilio.messages[0].fields["Body"] == "Pilih kategori:\n\n" + lines


def test_sms_media_and_location_travel_as_links(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    sms.send(sms_out("Lokasi kantor:", media_urls=("https://warga.example.go.id/m/1.jpg",),
                     location=Location(-6.1951, 106.8231)))
    [created] = fake_twilio.messages
    assert created.fields["Body"] == ("Lokasi kantor:\n\nhttps://warga.example.go.id/m/1.jpg\n"
                                      "https://maps.google.com/?q=-6.1951,106.8231")
    assert "MediaUrl" not in created.fields


# -- send: WhatsApp ------------------------------------------------------------------------

def test_whatsapp_inside_the_window_sends_free_form(wa: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    result = wa.send(wa_out("Laporan Anda sedang diproses.", hours_ago=23))
    [created] = fake_twilio.messages
    assert sorted(created.form) == sorted([("To", WA_TO), ("From", "whatsapp:+14155238886"),
                                           ("Body", "Laporan Anda sedang diproses."), ("StatusCallback", STATUS)])
    assert result.status == DeliveryStatus.queued and result.note is None


def test_whatsapp_media_caption_and_location(wa: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    wa.send(wa_out("Foto setelah perbaikan:", media_urls=("https://warga.example.go.id/m/1.jpg",
                                                          "https://warga.example.go.id/m/2.jpg"),
                   location=Location(-6.2, 106.8, "Kantor Kelurahan Menteng")))
    first, second, third = fake_twilio.messages
    assert first.fields["Body"] == "Foto setelah perbaikan:"
    assert first.all("MediaUrl") == ["https://warga.example.go.id/m/1.jpg"]
    assert second.all("MediaUrl") == ["https://warga.example.go.id/m/2.jpg"] and "Body" not in second.fields
    assert third.fields["Body"] == "Kantor Kelurahan Menteng"
    assert third.all("PersistentAction") == ["geo:-6.2,106.8|Kantor Kelurahan Menteng"]


def test_whatsapp_outside_the_window_sends_the_configured_template(wa: TwilioChannel,
                                                                  fake_twilio: FakeTwilio) -> None:
    result = wa.send(wa_out("Status laporan JKT-2024-000123 kini: Proses", hours_ago=30, template="status_changed",
                            template_vars=(("1", "JKT-2024-000123"), ("2", "Proses"))))
    [created] = fake_twilio.messages
    fields = created.fields
    assert fields["ContentSid"] == "HXb5b62575e6e4ff6129ad7c8efe1f983e"
    assert json.loads(fields["ContentVariables"]) == {"1": "JKT-2024-000123", "2": "Proses"}  # a JSON string
    assert "Body" not in fields and fields["StatusCallback"] == STATUS and fields["To"] == WA_TO
    assert result.note == "sent as template status_changed"


@pytest.mark.parametrize("hours_ago, template", [
    (30, None),                 # a free-form reply: never silently dropped
    (30, "ticket_closed"),      # a kind with no Content SID configured
    (None, "status_changed_x"),
    (24 - 2 / 60, None),        # 23h58m: inside 24 h but within the safety margin
])
def test_whatsapp_outside_the_window_without_a_template_is_held(
        wa: TwilioChannel, fake_twilio: FakeTwilio, hours_ago: float | None, template: str | None) -> None:
    result = wa.send(wa_out("Apakah masalahnya sudah selesai?", hours_ago=hours_ago, template=template))
    assert result.status == DeliveryStatus.held
    assert result.provider_message_ids == ()
    assert (result.note or "").startswith("needs template")
    assert fake_twilio.requests == []


def test_config_errors_and_wrong_recipients(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(config(fake_twilio, whatsapp_from=""), "whatsapp", clock=lambda: NOW)
    with pytest.raises(SendError) as err:
        channel.send(wa_out("Halo"))
    assert err.value.code == "config" and not err.value.retryable
    with pytest.raises(SendError) as err:
        channel.send(OutboundMessage("sms", WA_TO, "Halo"))
    assert err.value.code == "bad_recipient"
    assert fake_twilio.requests == []


def test_twilio_channels_builds_the_configured_senders() -> None:
    both = twilio_channels(config())
    assert sorted(both) == ["sms", "whatsapp"] and both["sms"]._rest is both["whatsapp"]._rest
    assert sorted(twilio_channels(config(whatsapp_from=""))) == ["sms"]
