"""A city's own Rasa server (``nlu.rasa_url``) read through an intent map.

Most tests fake the server at the HTTP transport seam with answers in Rasa 3.6's shape, from a
model trained on the city's own names (``lapor_sampah``, ``tanya_pbb`` ...); one runs against
the REAL session Rasa server (tests/nlu/conftest.py) standing in for an external one.
"""

from __future__ import annotations

import json

import httpx
import pytest

from bot.pipeline.process import parse_to_json
from nlu.base import NluError
from nlu.config import NluConfig
from nlu.factory import build_rasa_engine
from nlu.rasa_engine import RasaEngine
from nlu.training_data import TrainingData

TOKEN = "city-tok-9f2"
CITY_MAP = {
    "salam": "greet",
    "terima_kasih": "thank",
    "lapor_sampah": "report_garbage",
    "lapor_sampah_liar": "report_garbage",
    "tanya_pbb": "ask_tax",
}
DOMAIN = {"intents": ["salam", "terima_kasih", "lapor_sampah", "lapor_sampah_liar", "tanya_pbb", "cuaca",
                      {"goodbye": {"use_entities": True}}, "nlu_fallback"]}


def _ranked(*pairs: tuple[str, float], entities: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"intent": {"name": pairs[0][0], "confidence": pairs[0][1]}, "entities": entities or [],
            "intent_ranking": [{"name": n, "confidence": c} for n, c in pairs]}


def _city_model(text: str) -> dict[str, object]:
    """A model of the city's own: its names, never Warga's (but ``goodbye``)."""
    if "cuaca" in text and "sampah" not in text:
        return _ranked(("cuaca", 0.91), ("lapor_sampah", 0.05))
    if "liar" in text:
        # Its two garbage intents split the votes; together they are sure.
        return _ranked(("lapor_sampah", 0.36), ("lapor_sampah_liar", 0.34), ("cuaca", 0.2))
    courtesy = "terima" in text or "selamat" in text
    if "sampah" in text and not courtesy:
        at = text.index("kenari")
        return _ranked(("lapor_sampah", 0.95), ("tanya_pbb", 0.03),
                       entities=[{"entity": "alamat", "start": at, "end": at + 6, "value": "kenari"}])
    if "pbb" in text and "sampah" not in text:
        return _ranked(("tanya_pbb", 0.93), ("cuaca", 0.04))
    if courtesy and "sampah" not in text:
        return _ranked(("terima_kasih" if "terima" in text else "salam", 0.97), ("cuaca", 0.02))
    if "sampah" in text:
        return _ranked(("terima_kasih", 0.46), ("lapor_sampah", 0.41))
    if "dadah" in text:
        return _ranked(("goodbye", 0.88), ("salam", 0.1))
    return _ranked(("nlu_fallback", 0.3), ("cuaca", 0.2))


class CityRasa:
    """The city's server: checks the token the way Rasa does (only ``?token=``)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.token and request.url.params.get("token") != self.token:
            return httpx.Response(401, json={"message": "User is not authenticated."})
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "models/kota-20261101.tar.gz"})
        if request.url.path == "/domain":
            return httpx.Response(200, json=DOMAIN)
        text = json.loads(request.content)["text"]
        return httpx.Response(200, json={"text": text, **_city_model(text.lower())})


def _engine(fake: CityRasa, token: str = TOKEN, **kwargs: object) -> RasaEngine:
    return RasaEngine("https://nlu.kota.test", token, threshold=0.5, transport=httpx.MockTransport(fake),
                      intent_map=CITY_MAP, entity_map={"alamat": "location"}, **kwargs)  # type: ignore[arg-type]


def test_the_city_intent_is_reported_as_wargas_and_its_own_name_kept() -> None:
    fake = CityRasa()
    parse = _engine(fake).parse("sampah numpuk di jl kenari")
    assert (parse.intent, parse.confidence, parse.source_intent) == ("report_garbage", 0.95, "lapor_sampah")
    assert parse.ranking == (("report_garbage", 0.95), ("ask_tax", 0.03))
    assert [(e.entity, e.text) for e in parse.entities] == [("location", "kenari")]
    stored = parse_to_json(parse)
    assert (stored["intent"], stored["source_intent"]) == ("report_garbage", "lapor_sampah")
    # The token goes only as the query parameter (a Bearer header gets 401 from Rasa).
    assert all(r.url.params["token"] == TOKEN and "authorization" not in r.headers for r in fake.requests)


def test_an_unmapped_intent_is_not_understood_however_sure() -> None:
    parse = _engine(CityRasa()).parse("bagaimana cuaca besok")
    assert parse.intent is None and parse.source_intent == "cuaca"
    assert parse.ranking[0] == ("cuaca", 0.91) and parse.confidence == 0.91
    assert "source_intent" in parse_to_json(parse)


def test_a_warga_name_in_their_model_needs_no_mapping() -> None:
    parse = _engine(CityRasa()).parse("dadah sampai jumpa")
    assert (parse.intent, parse.source_intent) == ("goodbye", None)
    assert "source_intent" not in parse_to_json(parse)


def test_their_intents_mapped_to_one_of_ours_add_up() -> None:
    parse = _engine(CityRasa()).parse("ada pembuangan sampah liar")
    assert parse.intent == "report_garbage" and parse.confidence == pytest.approx(0.70)
    assert parse.source_intent == "lapor_sampah"


def test_a_long_message_is_read_by_parts_in_wargas_names() -> None:
    text = ("Selamat pagi bapak ibu. Sampah di TPS Jl. Kenari RT 05 sudah seminggu tidak diangkut, baunya "
            "sampai ke rumah warga. Sekalian mau tanya, bagaimana cara bayar PBB online? Terima kasih banyak.")
    parse = _engine(CityRasa()).parse(text)
    assert (parse.intent, parse.source_intent) == ("report_garbage", "lapor_sampah")
    assert (parse.secondary_intent, parse.secondary_confidence) == ("ask_tax", 0.93)
    roles = [(p.role, p.intent) for p in parse.parts]
    assert roles[0] == ("courtesy", "greet") and roles[-1] == ("courtesy", "thank")
    assert ("secondary", "ask_tax") in roles


def test_a_part_read_as_an_unmapped_intent_has_no_intent() -> None:
    text = ("Sampah di TPS Jl. Kenari RT 05 sudah seminggu tidak diangkut dan baunya menyengat, "
            "padahal cuaca panas sekali minggu ini")
    parse = _engine(CityRasa()).parse(text)
    assert parse.intent == "report_garbage"
    cuaca = [p for p in parse.parts if "cuaca" in p.text]
    assert cuaca and cuaca[0].intent is None


def test_a_refused_or_missing_token_and_a_dead_server_are_errors_that_never_show_the_token() -> None:
    with pytest.raises(NluError, match="token rejected") as refused:
        _engine(CityRasa(), token="wrong").parse("sampah numpuk di jl kenari")
    assert not refused.value.retryable
    assert _engine(CityRasa(), token="wrong").problem() == "rasa status: token rejected (HTTP 401)"

    def dead(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    engine = RasaEngine("https://nlu.kota.test", TOKEN, transport=httpx.MockTransport(dead))
    with pytest.raises(NluError) as down:
        engine.parse("sampah")
    assert down.value.retryable and TOKEN not in str(down.value) and "nlu.kota.test" in str(down.value)


def test_a_server_without_a_token_is_sent_none() -> None:
    fake = CityRasa(token="")
    assert _engine(fake, token="").parse("dadah sampai jumpa").intent == "goodbye"
    assert all("token" not in r.url.params for r in fake.requests)


def test_the_models_intents_and_the_unmapped_ones() -> None:
    engine = _engine(CityRasa())
    intents = engine.model_intents()
    assert intents == ("salam", "terima_kasih", "lapor_sampah", "lapor_sampah_liar", "tanya_pbb", "cuaca", "goodbye")
    assert engine.unmapped(intents) == ("cuaca",)


def test_an_external_server_is_not_trained_by_warga(tmp_path) -> None:
    config = NluConfig(engine="rasa", rasa_url="https://nlu.kota.test/", intent_map=CITY_MAP,
                       models_dir=tmp_path / "models", var_dir=tmp_path / "var")
    engine = build_rasa_engine(config)
    try:
        assert engine.base_url == "https://nlu.kota.test" and engine.intent_map == CITY_MAP
        with pytest.raises(NluError, match="not trained by Warga"):
            engine.train(TrainingData())
    finally:
        engine.close()


@pytest.mark.rasa
def test_the_real_server_as_an_external_one(rasa_engine: RasaEngine) -> None:
    """The session server, pointed at through nlu.rasa_url with a map that renames its
    ``report_flood`` to another Warga intent: the rename reaches the intent and the ranking."""
    renamed = {"report_flood": "report_drainage"}
    config = NluConfig(engine="rasa", rasa_url=rasa_engine.base_url, rasa_token=rasa_engine._token,
                       intent_map=renamed, rasa_timeout=30.0)
    external = build_rasa_engine(config)
    try:
        assert external.ready() and external.trainer is None
        parse = external.parse("banjir setinggi lutut di depan rumah saya sejak tadi pagi")
        assert (parse.intent, parse.source_intent) == ("report_drainage", "report_flood"), parse.ranking[:3]
        assert "report_flood" not in [name for name, _ in parse.ranking]
        assert external.unmapped(["report_flood", "greet", "cuaca_hari_ini"]) == ("cuaca_hari_ini",)
    finally:
        external.close()


def test_evaluating_foreign_data_takes_the_models_own_intents_as_answers() -> None:
    """Scoring a model trained on someone else's intents (xSID, `warga nlu evaluate --train A
    --test B --engine rasa`): its intents are the answers there, not "not understood"; the
    gateway's engine keeps refusing them."""
    gateway = _engine(CityRasa())
    evaluating = _engine(CityRasa(), any_intents=True)
    try:
        assert gateway.parse("cuaca besok bagaimana").intent is None           # unmapped: refused
        parse = evaluating.parse("cuaca besok bagaimana")
        assert (parse.intent, parse.confidence) == ("cuaca", 0.91)
        assert evaluating.parse("halo apa kabar").intent is None        # Rasa's own fallback still is
    finally:
        gateway.close()
        evaluating.close()
