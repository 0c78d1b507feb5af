"""TwilioChannel (SMS and WhatsApp): signatures, a payload table, sends against a local fake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from channels.base import (Button, Channel, DeliveryStatus, InboundMessage, Location, Media,
                           OutboundMessage, SendError, SendFailure, StatusUpdate, Unparseable, WebhookRejected,
                           WebhookRequest)
from channels.sms_segments import count_segments
from channels.twilio import TwilioChannel, TwilioConfig, parse_choice_number, twilio_channels
from tests.fakes._http import FakeServer, Recorded, Reply, unused_port
from tests.fakes.fake_twilio import FakeTwilio, sign

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "twilio"
SID = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90"
TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
PUBLIC = "https://warga.example.go.id"
HOOK = PUBLIC + "/webhooks/twilio"
STATUS = PUBLIC + "/webhooks/twilio/status"
NOW = datetime(2024, 11, 28, 9, 30, tzinfo=timezone.utc)
SMS_TO, WA_TO = "tel:+6281234567890", "whatsapp:+6281298765432"
TEMPLATES = (("status_changed", "HXb5b62575e6e4ff6129ad7c8efe1f983e"),)


def config(fake: FakeTwilio | None = None, **kw: Any) -> TwilioConfig:
    origin = fake.url if fake else f"http://127.0.0.1:{unused_port()}"
    base: dict[str, Any] = dict(sms_from="+15005550006", whatsapp_from="+14155238886", public_url=PUBLIC,
                                api_base_url=origin, media_api_origin=origin, timeout=2.0,
                                whatsapp_templates=TEMPLATES)
    base.update(kw)
    return TwilioConfig(SID, TOKEN, **base)


@pytest.fixture
def offline() -> TwilioChannel:
    return TwilioChannel(config(), "sms", clock=lambda: NOW)


@pytest.fixture
def sms(fake_twilio: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(config(fake_twilio), "sms", clock=lambda: NOW)


@pytest.fixture
def wa(fake_twilio: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(config(fake_twilio), "whatsapp", clock=lambda: NOW)


def pairs_of(name: str) -> list[tuple[str, str]]:
    return parse_qsl((PAYLOADS / name).read_text(), keep_blank_values=True)


def signed(name: str, url: str = HOOK, signed_url: str | None = None, *, as_form: bool = False,
           headers: dict[str, str] | None = None) -> WebhookRequest:
    """A webhook request for a payload file, signed as Twilio would sign ``signed_url``."""
    body = (PAYLOADS / name).read_bytes()
    pairs = pairs_of(name)
    h = {"content-type": "application/x-www-form-urlencoded",
         "x-twilio-signature": sign(TOKEN, signed_url or url, pairs)}
    h.update(headers or {})
    return WebhookRequest(url=url, headers=h, body=body, form=tuple(pairs) if as_form else ())


# -- verify ------------------------------------------------------------------------------

def test_is_a_channel(offline: TwilioChannel) -> None:
    assert isinstance(offline, Channel) and offline.name == "sms"
    assert TwilioChannel(config(), "whatsapp").name == "whatsapp"


def test_our_test_signer_matches_twilios_published_vector() -> None:
    # https://www.twilio.com/docs/usage/webhooks/webhooks-security (notes §5)
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
              ("From", "+14158675309"), ("To", "+18005551212")]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    channel = TwilioChannel(TwilioConfig("AC" + "0" * 32, "12345", public_url="https://mycompany.com"))
    # Behind a TLS-terminating proxy the app sees http://internal-host; the public URL is rebuilt.
    channel.verify(WebhookRequest("http://10.0.0.5:8000/myapp.php?foo=1&bar=2",
                                  {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, b"", tuple(params)))


@pytest.mark.parametrize("request_url, public_url, twilio_signed", [
    (HOOK, PUBLIC, HOOK),
    ("http://10.0.0.5:8000/webhooks/twilio", PUBLIC, HOOK),                  # proxy: scheme and host differ
    ("http://localhost/webhooks/twilio", "https://kota.go.id/warga", "https://kota.go.id/warga/webhooks/twilio"),
    ("http://localhost/warga/webhooks/twilio", "https://kota.go.id/warga", "https://kota.go.id/warga/webhooks/twilio"),
    (HOOK + "?kota=jakarta", PUBLIC, HOOK + "?kota=jakarta"),               # the query is signed too
    ("https://warga.example.go.id:443/webhooks/twilio", "", HOOK),           # no public_url: used as is
], ids=["public", "behind-proxy", "prefix-stripped", "prefix-kept", "query", "no-public-url"])
def test_verify_accepts_what_twilio_signed(request_url: str, public_url: str, twilio_signed: str) -> None:
    channel = TwilioChannel(config(public_url=public_url))
    channel.verify(signed("sms_text.txt", url=request_url, signed_url=twilio_signed))


@pytest.mark.parametrize("case", ["missing", "empty", "wrong", "tampered", "http-signed", "query-dropped",
                                  "blank-field-dropped", "other-token"])
def test_verify_rejects(offline: TwilioChannel, case: str) -> None:
    request = signed("sms_text.txt")
    if case == "missing":
        request = WebhookRequest(HOOK, {}, request.body)
    elif case == "empty":
        request = WebhookRequest(HOOK, {"x-twilio-signature": ""}, request.body)
    elif case == "wrong":
        request = WebhookRequest(HOOK, {"x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, request.body)
    elif case == "tampered":
        request = WebhookRequest(HOOK, request.headers, request.body.replace(b"mati", b"hidup"))
    elif case == "http-signed":
        request = signed("sms_text.txt", signed_url=HOOK.replace("https:", "http:"))
    elif case == "query-dropped":
        request = signed("sms_text.txt", url=HOOK, signed_url=HOOK + "?kota=jakarta")
    elif case == "blank-field-dropped":
        # A framework that drops "ToCity=" breaks the signature: blank fields are signed.
        form = tuple((k, v) for k, v in pairs_of("sms_text.txt") if v)
        request = WebhookRequest(HOOK, request.headers, request.body, form)
    elif case == "other-token":
        pairs = pairs_of("sms_text.txt")
        request = WebhookRequest(HOOK, {"x-twilio-signature": sign("another-token", HOOK, pairs)}, request.body)
    with pytest.raises(WebhookRejected):
        offline.verify(request)


def test_verify_uses_the_form_pairs_or_the_raw_body_alike(offline: TwilioChannel) -> None:
    offline.verify(signed("whatsapp_media.txt", as_form=True))
    offline.verify(signed("whatsapp_media.txt", as_form=False))


def test_verify_handles_repeated_keys(offline: TwilioChannel) -> None:
    pairs = [("MessageSid", "SM" + "1" * 32), ("Tag", "b"), ("Tag", "a"), ("From", "+6281234567890")]
    request = WebhookRequest(HOOK, {"X-Twilio-Signature": sign(TOKEN, HOOK, pairs)}, b"", tuple(pairs))
    offline.verify(request)
    with pytest.raises(WebhookRejected):
        offline.verify(WebhookRequest(HOOK, request.headers, b"", tuple(pairs[:2] + pairs[3:])))


def test_verify_json_body_with_body_sha256(offline: TwilioChannel) -> None:
    body = json.dumps({"MessageSid": "SM" + "2" * 32, "Body": "halo"}).encode()
    url = HOOK + "?bodySHA256=" + hashlib.sha256(body).hexdigest()
    sig = sign(TOKEN, url, [])
    headers = {"X-Twilio-Signature": sig, "Content-Type": "application/json"}
    offline.verify(WebhookRequest(url, headers, body))
    with pytest.raises(WebhookRejected):    # the body hash is really checked
        offline.verify(WebhookRequest(url, headers, body.replace(b"halo", b"hola")))


def test_verify_hmac_sha256_signature_settings(offline: TwilioChannel) -> None:
    pairs = pairs_of("sms_text.txt")
    data = HOOK + "".join(k + v for k, v in sorted(pairs))
    sig = base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha256).digest()).decode()
    headers = {"X-Twilio-Signature": sig, "X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA256"}
    offline.verify(WebhookRequest(HOOK, headers, (PAYLOADS / "sms_text.txt").read_bytes()))
    with pytest.raises(WebhookRejected):
        offline.verify(WebhookRequest(HOOK, {"X-Twilio-Signature": sig}, (PAYLOADS / "sms_text.txt").read_bytes()))


# -- parse: the payload table ------------------------------------------------------------

MM = "MM6f1e2d3c4b5a69788796a5b4c3d2e1f6"
MEDIA_BASE = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/{MM}/Media/"

MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("sms_text.txt", dict(channel="sms", external_id="SM0f1e2d3c4b5a69788796a5b4c3d2e1f0", sender="tel:+6281234567890",
                          text="Lampu jalan di depan SDN 01 Menteng mati sejak kemarin", received_at=NOW,
                          kind="message", event=None, media=(), location=None, sender_name=None)),
    ("sms_stop.txt", dict(channel="sms", text="STOP", event="opt_out")),
    ("sms_berhenti.txt", dict(text="berhenti", event="opt_out")),
    ("sms_mulai.txt", dict(text="Mulai", event="opt_in")),
    ("sms_choice.txt", dict(text="2", event=None)),
    ("whatsapp_text.txt", dict(channel="whatsapp", sender="whatsapp:+6281298765432", sender_name="Budi Santoso",
                               external_id="SM5f1e2d3c4b5a69788796a5b4c3d2e1f5",
                               text="Halo, saya mau lapor banjir di Kampung Melayu")),
    ("whatsapp_media.txt", dict(channel="whatsapp", external_id=MM, text="Foto genangan air", media=(
        Media(MEDIA_BASE + "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9", "image/jpeg"),
        Media(MEDIA_BASE + "ME1a1b2c3d4e5f60718293a4b5c6d7e8f9", "video/mp4")))),
    ("whatsapp_location.txt", dict(channel="whatsapp", text="", location=Location(
        -6.225014, 106.855833, "Kampung Melayu, Jl. Jatinegara Barat No. 12, Jakarta Timur"))),
    ("whatsapp_button.txt", dict(text="status:JKT-2024-000123", reply_to_button="status:JKT-2024-000123")),
]

STATUSES: list[tuple[str, dict[str, Any]]] = [
    ("status_queued.txt", dict(channel="sms", status=DeliveryStatus.queued, error_code=None,
                               provider_message_id="SMc0ffee0c0ffee0c0ffee0c0ffee0c0ff", at=NOW)),
    ("status_sent.txt", dict(status=DeliveryStatus.sent)),
    ("status_delivered.txt", dict(status=DeliveryStatus.delivered, failure=None)),
    ("status_failed_21610.txt", dict(status=DeliveryStatus.failed, error_code="21610", failure=SendFailure.contact_stopped,
                                     error_reason="Attempt to send to unsubscribed recipient")),
    ("status_undelivered_30003.txt", dict(status=DeliveryStatus.failed, error_code="30003",
                                          error_reason="unreachable destination handset")),
    ("status_whatsapp_read.txt", dict(channel="whatsapp", status=DeliveryStatus.read,
                                      provider_message_id="SMdeadbeefdeadbeefdeadbeefdeadbeef")),
    ("status_whatsapp_delivered.txt", dict(channel="whatsapp", status=DeliveryStatus.delivered)),
    # 63016 arrives asynchronously with an empty ErrorMessage (pitfalls §6).
    ("status_whatsapp_undelivered_63016.txt", dict(channel="whatsapp", status=DeliveryStatus.failed,
                                                   error_code="63016", failure=SendFailure.needs_template)),
    ("status_whatsapp_failed_63018.txt", dict(status=DeliveryStatus.failed, error_code="63018",
                                              error_reason="Rate limit exceeded for Channel")),
]

UNPARSEABLE = [
    ("missing_sid.txt", "without MessageSid"),
    ("missing_from.txt", "without From"),
    ("unsupported_address.txt", "unsupported sender address"),
    ("empty.txt", "empty body"),
    ("status_unknown.txt", "unknown message status 'huh'"),
    ("status_missing_sid.txt", "status callback without MessageSid"),
]


@pytest.mark.parametrize("name, expected", MESSAGES, ids=[n for n, _ in MESSAGES])
@pytest.mark.parametrize("as_form", [False, True], ids=["body", "form"])
def test_parse_message_table(offline: TwilioChannel, name: str, expected: dict[str, Any], as_form: bool) -> None:
    request = signed(name, as_form=as_form)
    offline.verify(request)
    [item] = offline.parse_inbound(request)
    assert isinstance(item, InboundMessage), item
    assert item.raw == (PAYLOADS / name).read_text()
    for attr, value in expected.items():
        assert getattr(item, attr) == value, attr


@pytest.mark.parametrize("name, expected", STATUSES, ids=[n for n, _ in STATUSES])
def test_parse_status_table(offline: TwilioChannel, name: str, expected: dict[str, Any]) -> None:
    request = signed(name, url=STATUS)
    offline.verify(request)
    [item] = offline.parse_inbound(request)
    assert isinstance(item, StatusUpdate), item
    for attr, value in expected.items():
        assert getattr(item, attr) == value, attr
    assert (item.failure is SendFailure.needs_template) == (item.error_code == "63016")


@pytest.mark.parametrize("name, reason", UNPARSEABLE, ids=[n for n, _ in UNPARSEABLE])
def test_parse_unparseable_table(offline: TwilioChannel, name: str, reason: str) -> None:
    [item] = offline.parse_inbound(signed(name))
    assert isinstance(item, Unparseable), item
    assert reason in item.reason
    assert item.external_id and item.external_id == offline.parse_inbound(signed(name))[0].external_id


def test_the_63016_reason_is_filled_in_when_twilio_leaves_it_empty(offline: TwilioChannel) -> None:
    [item] = offline.parse_inbound(signed("status_whatsapp_undelivered_63016.txt", url=STATUS))
    assert isinstance(item, StatusUpdate)
    assert "24-hour window" in (item.error_reason or "")


def test_parse_choice_number() -> None:
    assert [parse_choice_number(t) for t in ("1", " 2 ", "3.", "4)", "12", "1 2", "satu", "", "123")] == \
        [1, 2, 3, 4, 12, None, None, None, None]


# -- send: SMS -----------------------------------------------------------------------------

def sms_out(text: str, **kw: Any) -> OutboundMessage:
    return OutboundMessage(channel="sms", recipient=SMS_TO, text=text, **kw)


def wa_out(text: str, *, hours_ago: float | None = 1, **kw: Any) -> OutboundMessage:
    last = NOW - timedelta(hours=hours_ago) if hours_ago is not None else None
    return OutboundMessage(channel="whatsapp", recipient=WA_TO, text=text, last_inbound_at=last, **kw)


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


# -- errors ----------------------------------------------------------------------------------

ERRORS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429-20429", dict(status=429, code=20429, message="Too Many Requests"), dict(retryable=True, code="20429", kind=SendFailure.throttled)),
    ("503", dict(status=503, code=20503, message="Service Unavailable"), dict(retryable=True)),
    ("21610", dict(status=400, code=21610, message="Attempt to send to unsubscribed recipient"),
     dict(retryable=False, kind=SendFailure.contact_stopped, code="21610")),
    ("63016-sync", dict(status=400, code=63016, message="Failed to send freeform message because you are "
                        "outside the allowed window."), dict(retryable=False, kind=SendFailure.needs_template, code="63016")),
    ("63018", dict(status=429, code=63018, message="Rate limit exceeded for Channel"), dict(retryable=True)),
    ("21211", dict(status=400, code=21211, message="Invalid 'To' Phone Number"),
     dict(retryable=False, kind=SendFailure.permanent, code="21211")),
    ("rfc9457", dict(status=400, code=21211, message="Invalid 'To' Phone Number", problem_details=True),
     dict(retryable=False, code="21211")),
    ("rfc9457-429", dict(status=429, code=20429, message="Too Many Requests", problem_details=True),
     dict(retryable=True)),
]


@pytest.mark.parametrize("label, fail, expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_send_errors_are_mapped(wa: TwilioChannel, fake_twilio: FakeTwilio, label: str, fail: dict[str, Any],
                                expected: dict[str, Any]) -> None:
    fake_twilio.fail(**fail)
    with pytest.raises(SendError) as err:
        wa.send(wa_out("Halo"))
    for attr, value in expected.items():
        assert getattr(err.value, attr) == value, attr


def test_html_502_is_retryable(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_html(502)
    with pytest.raises(SendError) as err:
        sms.send(sms_out("Halo"))
    assert err.value.retryable and err.value.code == "502"


def test_wrong_credentials_are_not_retryable(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(TwilioConfig(SID, "wrong-token", sms_from="+15005550006", api_base_url=fake_twilio.url))
    with pytest.raises(SendError) as err:
        channel.send(sms_out("Halo"))
    assert not err.value.retryable and err.value.code == "20003"


def test_read_timeout_is_retryable_with_unknown_outcome(fake_twilio: FakeTwilio) -> None:
    fake_twilio.delay(1.5)
    channel = TwilioChannel(config(fake_twilio, timeout=0.3), "sms")
    with pytest.raises(SendError) as err:
        channel.send(sms_out("Halo"))
    assert err.value.retryable and err.value.outcome_unknown and err.value.code == "timeout"


def test_connection_refused_is_retryable_and_known_unsent() -> None:
    channel = TwilioChannel(config(None), "sms")
    with pytest.raises(SendError) as err:
        channel.send(sms_out("Halo"))
    assert err.value.retryable and not err.value.outcome_unknown


def test_a_failed_part_reports_progress_and_a_retry_resumes_after_it(sms: TwilioChannel,
                                                                    fake_twilio: FakeTwilio) -> None:
    message = sms_out(" ".join(f"Langkah {i}: petugas memeriksa lokasi dan mencatat kerusakan." for i in range(25)))
    plan = sms.plan(message)
    assert isinstance(plan, list) and len(plan) == 4
    fake_twilio.fail(503, 20503, "Service Unavailable", after=2)
    with pytest.raises(SendError) as err:
        sms.send(message)
    assert err.value.parts_sent == 2 and len(err.value.sent_ids) == 2
    retry = OutboundMessage(**{**{f: getattr(message, f) for f in message.__slots__},
                               "resume_from": err.value.parts_sent})
    result = sms.send(retry)
    assert [m.fields["Body"] for m in fake_twilio.messages] == [p["body"] for p in plan]   # each exactly once
    assert len(result.provider_message_ids) == 2


# -- status callbacks round trip ---------------------------------------------------------

def test_an_async_63016_comes_back_as_a_window_closed_status(wa: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    [sid] = wa.send(wa_out("Halo")).provider_message_ids
    callback = fake_twilio.status_callback(sid, "undelivered", error_code="63016")
    assert callback.url == STATUS
    request = WebhookRequest(callback.url, {"X-Twilio-Signature": callback.signature,
                                            "Content-Type": "application/x-www-form-urlencoded"}, callback.body)
    wa.verify(request)
    [update] = wa.parse_inbound(request)
    assert isinstance(update, StatusUpdate)
    assert (update.channel, update.provider_message_id, update.status) == ("whatsapp", sid, DeliveryStatus.failed)
    assert update.failure is SendFailure.needs_template and update.error_code == "63016"


class _Sink(FakeServer):
    def handle(self, request: Recorded) -> Reply:
        return Reply(200, b"<Response/>", "text/xml")


def test_the_fake_can_deliver_a_callback_to_a_live_server(wa: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    [sid] = wa.send(wa_out("Halo")).provider_message_ids
    with _Sink() as sink:
        callback = fake_twilio.status_callback(sid, "delivered")
        assert FakeTwilio.deliver(callback, sink.url + "/webhooks/twilio/status") == 200
        [got] = sink.requests
    assert got.headers["x-twilio-signature"] == callback.signature
    assert dict(got.form())["MessageStatus"] == "delivered"


# -- media -----------------------------------------------------------------------------------

def test_fetch_media_sends_credentials_to_twilio_only(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"\xff\xd8jpeg-bytes", "image/jpeg")
    assert sms.fetch_media(url) == ("image/jpeg", b"\xff\xd8jpeg-bytes")
    [api] = fake_twilio.requests
    assert api.basic_auth() == (SID, TOKEN)
    [cdn] = fake_twilio.cdn.requests
    assert "authorization" not in cdn.headers                # the redirect is followed without credentials


def test_fetch_media_without_redirect(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"video", "video/mp4", redirect=False)
    assert sms.fetch_media(url) == ("video/mp4", b"video")


def test_fetch_media_404_right_after_the_webhook_is_retryable(sms: TwilioChannel, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"img", not_found_times=1)
    with pytest.raises(SendError) as err:
        sms.fetch_media(url)
    assert err.value.retryable and err.value.code == "404"
    assert sms.fetch_media(url) == ("image/jpeg", b"img")


@pytest.mark.parametrize("make_url", [
    lambda f: f"https://evil.example.com/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
    lambda f: f"{f.url}/2010-04-01/Accounts/AC{'9' * 32}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
    lambda f: f"{f.url}/2010-04-01/Accounts/{SID}/Messages/../../../Accounts/AC{'9' * 32}/Messages.json",
    lambda f: f"{f.url}/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}?x=1",
    lambda f: f"http://127.0.0.1:{f.port}@evil.example.com/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
    lambda f: f"{f.url}.evil.example.com/2010-04-01/Accounts/{SID}/Messages/MM{'a' * 32}/Media/ME{'b' * 32}",
], ids=["foreign-host", "other-account", "path-traversal", "query", "userinfo", "host-suffix"])
def test_fetch_media_refuses_other_urls_before_any_request(sms: TwilioChannel, fake_twilio: FakeTwilio,
                                                           make_url: Any) -> None:
    with pytest.raises(SendError) as err:
        sms.fetch_media(make_url(fake_twilio))
    assert err.value.code == "media_url_rejected" and not err.value.retryable
    assert fake_twilio.requests == [] and fake_twilio.cdn.requests == []


def test_fetch_media_refuses_oversized_media(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(config(fake_twilio, max_media_bytes=3), "sms")
    with pytest.raises(SendError) as err:
        channel.fetch_media(fake_twilio.add_media(b"too big"))
    assert err.value.code == "too_large"


def test_fetch_media_with_wrong_credentials_is_not_retryable(fake_twilio: FakeTwilio) -> None:
    channel = TwilioChannel(TwilioConfig(SID, "wrong", media_api_origin=fake_twilio.url), "sms")
    with pytest.raises(SendError) as err:
        channel.fetch_media(fake_twilio.add_media(b"img"))
    assert not err.value.retryable and err.value.code == "401"


def test_config_hides_the_auth_token() -> None:
    assert TOKEN not in repr(config())
    with pytest.raises(ValueError):
        TwilioConfig(SID, "")


def test_empty_twiml_is_what_twilio_itself_renders() -> None:
    from twilio.twiml.messaging_response import MessagingResponse

    from channels.twilio import EMPTY_TWIML
    assert EMPTY_TWIML == str(MessagingResponse())
