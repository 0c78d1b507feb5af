"""The Rasa engine, against a REAL Rasa 3.6.21 server (session fixture in conftest.py).

A few edge cases (nlu_fallback mapping, a hanging server) use Rasa-shaped payloads at the HTTP
transport seam, recorded from the real server on this machine.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nlu.base import NluEngine, NluError, TrainingError
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import free_port
from nlu.training_data import TrainingData

pytestmark = pytest.mark.rasa


def test_is_an_engine(rasa_engine: RasaEngine) -> None:
    assert isinstance(rasa_engine, NluEngine)
    assert rasa_engine.ready()


def test_parses_through_the_real_server(rasa_engine: RasaEngine) -> None:
    parse = rasa_engine.parse("cek status laporan WRG-2026-000123 dong")
    assert parse.engine == "rasa"
    assert parse.intent == "check_status"
    assert parse.ranking[0][0] == "check_status" and parse.confidence == parse.ranking[0][1]
    assert "nlu_fallback" not in [i for i, _ in parse.ranking]
    assert parse.language == "id"
    status = rasa_engine.status()
    assert parse.model_version and status.model_file.startswith("rasa-")
    assert parse.model_version in status.model_file


def test_ticket_numbers_are_canonical_and_reported_once(rasa_engine: RasaEngine) -> None:
    parse = rasa_engine.parse("status laporan wrg 2026 000123 gimana?")
    tickets = [e for e in parse.entities if e.entity == "ticket_id"]
    assert [(t.value, t.text) for t in tickets] == [("WRG-2026-000123", "wrg 2026 000123")]


def test_understands_other_small_model_intents(rasa_engine: RasaEngine) -> None:
    assert rasa_engine.parse("halo selamat pagi").ranking[0][0] == "greet"
    assert rasa_engine.parse("terima kasih banyak").ranking[0][0] == "thank"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀🙏", "\x00\x01", bytes(range(256)).decode("latin-1") * 4, bytes(range(128, 256)).decode("utf-8", "replace")],
)
def test_nothing_to_understand_is_not_sent_to_rasa(rasa_engine: RasaEngine, text: str) -> None:
    parse = rasa_engine.parse(text)
    assert parse.intent is None and parse.confidence == 0.0 and parse.ranking == ()


@pytest.mark.parametrize("text", ["banjir " * 2000, "\udcff junk \ud800 \x00 data"])
def test_long_and_junk_text_is_answered(rasa_engine: RasaEngine, text: str) -> None:
    parse = rasa_engine.parse(text)
    assert parse.ranking and parse.text == text


def test_threshold_maps_unsure_answers_to_none(rasa_engine: RasaEngine) -> None:
    strict = RasaEngine(rasa_engine.base_url, _token(rasa_engine), threshold=0.999999, timeout=30)
    parse = strict.parse("hmm")
    assert parse.intent is None and parse.ranking
    strict.close()


def test_wrong_token_is_not_retryable(rasa_engine: RasaEngine) -> None:
    wrong = RasaEngine(rasa_engine.base_url, "not-the-token", timeout=10)
    with pytest.raises(NluError, match="token") as info:
        wrong.parse("halo")
    assert info.value.retryable is False
    assert not wrong.ready()
    wrong.close()


def test_loading_a_missing_model_keeps_the_active_one(rasa_engine: RasaEngine, tmp_path: Path) -> None:
    before = rasa_engine.status().model_file
    with pytest.raises(TrainingError):
        rasa_engine.load_model(tmp_path / "rasa-nope.tar.gz")
    assert rasa_engine.status().model_file == before
    assert rasa_engine.parse("halo").ranking


def test_evaluates_yaml_test_data(rasa_engine: RasaEngine, small_data: TrainingData) -> None:
    result = rasa_engine.test_intents(small_data.subset(range(0, len(small_data.examples), 5)).to_yaml())
    assert 0.5 <= float(result["accuracy"]) <= 1.0
    assert "weighted avg" in result["report"]


def test_down_server_is_a_retryable_error() -> None:
    engine = RasaEngine(f"http://127.0.0.1:{free_port()}", "t", timeout=1.0)
    with pytest.raises(NluError) as info:
        engine.parse("halo")
    assert info.value.retryable is True
    assert not engine.ready()


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (a Rasa busy loading a model looks like this)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for c in conns:
        c.close()
    sock.close()


def test_slow_server_times_out_as_retryable(silent_server: str) -> None:
    engine = RasaEngine(silent_server, "t", timeout=0.5)
    with pytest.raises(NluError, match="timed out") as info:
        engine.parse("halo")
    assert info.value.retryable is True


# Recorded from the real server (Rasa 3.6.21) with a FallbackClassifier in the pipeline.
FALLBACK_BODY = {
    "text": "asdkjh qwe",
    "intent": {"name": "nlu_fallback", "confidence": 0.5},
    "entities": [],
    "intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "goodbye", "confidence": 0.4041928172111511},
        {"name": "greet", "confidence": 0.25145143270492554},
    ],
}
TICKET_BODY = {
    "text": "cek status wrg-2026-000123 dong",
    "intent": {"name": "check_status", "confidence": 0.9909343123435974},
    "entities": [
        {"entity": "ticket_id", "start": 11, "end": 26, "confidence_entity": 0.94, "value": "WRG-2026-000123", "extractor": "DIETClassifier", "processors": ["EntitySynonymMapper"]},
        {"entity": "ticket_id", "start": 11, "end": 26, "value": "wrg-2026-000123", "extractor": "RegexEntityExtractor"},
        {"entity": "ticket_id", "start": 0, "end": 3, "value": "cek", "extractor": "DIETClassifier"},
        {"entity": "location", "start": 27, "end": 31, "value": "dong", "extractor": "DIETClassifier"},
    ],
    "intent_ranking": [{"name": "check_status", "confidence": 0.99}, {"name": "greet", "confidence": 0.01}],
}


def _recorded(body: dict) -> RasaEngine:  # type: ignore[type-arg]
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["token"] == "tok"
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "rasa-20261128-071500-abc.tar.gz", "model_id": "x"})
        assert json.loads(request.content)["text"]
        return httpx.Response(200, json=body)

    return RasaEngine("http://rasa.test", "tok", threshold=0.5, transport=httpx.MockTransport(handler))


def test_nlu_fallback_becomes_none_with_the_real_ranking() -> None:
    parse = _recorded(FALLBACK_BODY).parse("asdkjh qwe")
    assert parse.intent is None
    assert parse.ranking[0] == ("goodbye", 0.4042) and parse.confidence == 0.4042
    assert parse.model_version == "20261128-071500-abc"


def test_duplicate_and_partial_ticket_entities_are_dropped() -> None:
    parse = _recorded(TICKET_BODY).parse("cek status wrg-2026-000123 dong")
    assert [(e.entity, e.value, e.start, e.end) for e in parse.entities] == [
        ("ticket_id", "WRG-2026-000123", 11, 26),
        ("location", "dong", 27, 31),
    ]


# Recorded from the real server: DIET splits "jl. pramuka raya" at the dot.
SPLIT_BODY = {
    "text": "lubang di jl. pramuka raya arah Matraman",
    "intent": {"name": "report_road_damage", "confidence": 0.97},
    "entities": [
        {"entity": "location", "start": 10, "end": 12, "value": "jl", "extractor": "DIETClassifier"},
        {"entity": "location", "start": 14, "end": 26, "value": "pramuka raya", "extractor": "DIETClassifier"},
        {"entity": "location", "start": 32, "end": 40, "value": "Matraman", "extractor": "DIETClassifier"},
    ],
    "intent_ranking": [{"name": "report_road_damage", "confidence": 0.97}],
}


def test_location_pieces_split_at_a_dot_are_joined() -> None:
    parse = _recorded(SPLIT_BODY).parse("lubang di jl. pramuka raya arah Matraman")
    assert [(e.value, e.start, e.end) for e in parse.entities] == [("jl. pramuka raya", 10, 26), ("Matraman", 32, 40)]


def _token(engine: RasaEngine) -> str:
    return str(engine._client.params["token"])  # noqa: SLF001 - reuse the fixture's token
