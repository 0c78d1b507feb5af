"""Twilio signatures: what Twilio signed is accepted, nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from channels.base import Channel, WebhookRejected, WebhookRequest
from channels.twilio import TwilioChannel
from channels.twilio.signature import SignatureChecker
from tests.channels.twilio.support import (
    HOOK,
    PAYLOADS,
    PUBLIC,
    SID,
    TOKEN,
    config,
    pairs_of,
    signed,
)
from tests.fakes.fake_twilio import sign

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
    # (The vector is a voice call: only the signature is checked here, not our account's SIDs.)
    checker = SignatureChecker("12345", "https://mycompany.com")
    # Behind a TLS-terminating proxy the app sees http://internal-host; the public URL is rebuilt.
    checker.verify(WebhookRequest("http://10.0.0.5:8000/myapp.php?foo=1&bar=2",
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
    pairs = [("MessageSid", "SM" + "1" * 32), ("Tag", "b"), ("Tag", "a"), ("From", "+6281234567890"),
             ("AccountSid", SID)]
    request = WebhookRequest(HOOK, {"X-Twilio-Signature": sign(TOKEN, HOOK, pairs)}, b"", tuple(pairs))
    offline.verify(request)
    with pytest.raises(WebhookRejected):
        offline.verify(WebhookRequest(HOOK, request.headers, b"", tuple(pairs[:2] + pairs[3:])))


def test_verify_json_body_with_body_sha256(offline: TwilioChannel) -> None:
    body = json.dumps({"MessageSid": "SM" + "2" * 32, "AccountSid": SID, "Body": "halo"}).encode()
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
