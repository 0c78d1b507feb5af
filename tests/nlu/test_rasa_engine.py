"""The Rasa engine, against a REAL Rasa 3.6.21 server (session fixture in conftest.py).

A few edge cases (nlu_fallback mapping, duplicate and split entities, a hanging server) use
Rasa-shaped payloads at the HTTP transport seam, in the shape the real server answers here.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nlu.base import NluEngine, NluError, TrainingError
from nlu.normalize import Normalizer
from nlu.rasa_engine import RasaEngine
from nlu.rasa_text import RASA_NORMALIZER, rasa_text, rasa_training_data
from nlu.training_data import TrainingData
from nlu.training_reader import load_training_data
from tests.nlu.conftest import HELDOUT
from tests.support import free_port

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
    [
        "",
        "   ",
        "😀🙏",
        "\x00\x01",
        "日本語の文",
        bytes(range(256)).decode("latin-1") * 4,
        bytes(range(128, 256)).decode("utf-8", "replace"),
    ],
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
# Rasa-shaped (offsets into the normalised text Warga sends, "cek status wrg 2026 000123 dong
# status"): a regex extractor's ticket, a duplicate from another extractor, a partial ticket span,
# a location, and one entity only on a word Warga added for the classifier.
TICKET_BODY = {
    "text": "cek status wrg 2026 000123 dong status",
    "intent": {"name": "check_status", "confidence": 0.9909343123435974},
    "entities": [
        {
            "entity": "ticket_id",
            "start": 11,
            "end": 26,
            "value": "WRG-2026-000123",
            "extractor": "CRFEntityExtractor",
            "processors": ["EntitySynonymMapper"],
        },
        {
            "entity": "ticket_id",
            "start": 11,
            "end": 26,
            "value": "wrg 2026 000123",
            "extractor": "RegexEntityExtractor",
        },
        {"entity": "ticket_id", "start": 0, "end": 3, "value": "cek", "extractor": "CRFEntityExtractor"},
        {"entity": "location", "start": 27, "end": 31, "value": "dong", "extractor": "CRFEntityExtractor"},
        {"entity": "location", "start": 32, "end": 38, "value": "status", "extractor": "CRFEntityExtractor"},
    ],
    "intent_ranking": [{"name": "check_status", "confidence": 0.99}, {"name": "greet", "confidence": 0.01}],
}


def _recorded(body: dict[str, Any]) -> RasaEngine:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["token"] == "tok"
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "rasa-20261128-071500-abc.tar.gz", "model_id": "x"})
        # Rasa is sent the normalised text, the one the body's offsets point into.
        assert json.loads(request.content)["text"] == body["text"]
        return httpx.Response(200, json=body)

    return RasaEngine("http://rasa.test", "tok", threshold=0.5, transport=httpx.MockTransport(handler))


def test_nlu_fallback_becomes_none_with_the_real_ranking() -> None:
    body = dict(FALLBACK_BODY, text=rasa_text("asdkjh qwe").text)
    parse = _recorded(body).parse("asdkjh qwe")
    assert parse.intent is None
    assert parse.ranking[0] == ("goodbye", 0.4042) and parse.confidence == 0.4042
    assert parse.model_version == "20261128-071500-abc"


def test_duplicate_and_partial_ticket_entities_are_dropped() -> None:
    parse = _recorded(TICKET_BODY).parse("cek status wrg-2026-000123 dong")
    assert [(e.entity, e.value, e.start, e.end, e.text) for e in parse.entities] == [
        ("ticket_id", "WRG-2026-000123", 11, 26, "wrg-2026-000123"),
        ("location", "dong", 27, 31, "dong"),
    ]


# CRF-shaped: "jl. pramuka raya" became "jalan pramuka raya" and came back in two pieces.
SPLIT_BODY = {
    "text": "lubang di jalan pramuka raya arah Matraman",
    "intent": {"name": "report_road_damage", "confidence": 0.97},
    "entities": [
        {"entity": "location", "start": 10, "end": 15, "value": "jalan", "extractor": "CRFEntityExtractor"},
        {"entity": "location", "start": 16, "end": 28, "value": "pramuka raya", "extractor": "CRFEntityExtractor"},
        {"entity": "location", "start": 34, "end": 42, "value": "Matraman", "extractor": "CRFEntityExtractor"},
    ],
    "intent_ranking": [{"name": "report_road_damage", "confidence": 0.97}],
}


def test_entities_come_back_as_written_and_pieces_of_one_place_are_joined() -> None:
    parse = _recorded(SPLIT_BODY).parse("lubang di jl. pramuka raya arah Matraman")
    assert [(e.value, e.start, e.end, e.text) for e in parse.entities] == [
        ("jl. pramuka raya", 10, 26, "jl. pramuka raya"),
        ("Matraman", 32, 40, "Matraman"),
    ]


def test_a_synonym_mapped_value_is_kept() -> None:
    body = {
        "text": "banjir di jalan Kemang",
        "intent": {"name": "report_flood", "confidence": 0.9},
        "entities": [
            {
                "entity": "location",
                "start": 10,
                "end": 22,
                "value": "Jalan Kemang Raya",
                "processors": ["EntitySynonymMapper"],
            }
        ],
        "intent_ranking": [{"name": "report_flood", "confidence": 0.9}],
    }
    parse = _recorded(body).parse("banjir di jln Kemang")
    assert [(e.value, e.text, e.start, e.end) for e in parse.entities] == [("Jalan Kemang Raya", "jln Kemang", 10, 20)]


# -- what Rasa sees ---------------------------------------------------------------------------


def test_rasa_text_is_what_the_sklearn_engine_classifies(project_data: TrainingData) -> None:
    """Rasa and the sklearn engine learn from the same normalised text (tokens and features)."""
    texts = project_data.texts() + load_training_data(HELDOUT).texts() + [
        "Gw udh lapor 2x tp blm ada yg dtg bgttt!!", "Ｊｌ．Ｍｅｌａｔｉ", "anak2 maiiin", "cafe\u0301 ß", "", "😀 ok",
    ]
    for text in texts:
        seen = rasa_text(text)
        assert seen.text.lower() == RASA_NORMALIZER.features(text), text
        words = [seen.text[a:b].lower() for a, b, o, _ in seen.tokens if o >= 0]
        assert words == RASA_NORMALIZER.tokens(text), text


def test_rasa_text_maps_every_word_back_to_what_was_written() -> None:
    seen = rasa_text("Jalan di Jl. Melati bolong bangeeet, dkt kel. Cempaka Putih, pothole")
    assert seen.text == "Jalan di jalan Melati bolong banget dekat kelurahan Cempaka Putih pothole lubang lurah"
    back = [(seen.text[a:b], seen.original[c:d] if c >= 0 else None) for a, b, c, d in seen.tokens]
    assert back[2:8] == [
        ("jalan", "Jl"),
        ("Melati", "Melati"),
        ("bolong", "bolong"),
        ("banget", "bangeeet"),
        ("dekat", "dkt"),
        ("kelurahan", "kel"),
    ]
    assert back[-3:] == [("pothole", "pothole"), ("lubang", None), ("lurah", None)]  # English→Indonesian, stem
    assert seen.original_span(9, 21) == (9, 19)  # "jalan Melati" → "Jl. Melati"
    assert seen.rasa_span(9, 19) == (9, 21)
    assert seen.original_span(len(seen.text) - 5, len(seen.text)) is None


def test_rasa_text_follows_multi_word_synonyms() -> None:
    normalizer = Normalizer.from_synonyms(
        [("jalan raya", ["jl raya", "jl. raya"]), ("terima kasih", ["makasih banyak"])]
    )
    for text in ["banjir di Jl. Raya Bogor", "makasih banyak makasih banyak ya", "jl raya jl raya jl raya", "x"]:
        seen = rasa_text(text, normalizer)
        assert seen.text.lower() == normalizer.features(text), text
    seen = rasa_text("banjir di Jl. Raya Bogor", normalizer)
    start = seen.text.index("jalan raya")
    assert seen.original_span(start, start + len("jalan raya")) == (10, 18)  # "Jl. Raya"


def test_training_data_for_rasa_moves_annotations(project_data: TrainingData) -> None:
    ex = next(e for e in project_data.examples if any(s.entity == "location" and "." in s.text for s in e.entities))
    moved = rasa_training_data(project_data.with_examples([ex])).examples[0]
    assert moved.text == rasa_text(ex.text).text and moved.intent == ex.intent
    for before, after in zip([s for s in ex.entities], moved.entities, strict=True):
        assert after.text == moved.text[after.start : after.end]
        assert rasa_text(ex.text).original_span(after.start, after.end) == (before.start, before.end)
        assert after.value == after.text  # the normalised words, not a synonym of the written ones
    assert "](location)" in rasa_training_data(project_data.with_examples([ex])).to_yaml()


def _token(engine: RasaEngine) -> str:
    return str(engine._client.params["token"])  # noqa: SLF001 - reuse the fixture's token
