"""A local fake of a city's own Rasa 3.6 server (``nlu.rasa_url``), for tests that cannot inject
an httpx transport (``warga doctor``, /readyz).

It answers ``GET /status`` and ``GET /domain`` the way Rasa does: 401 unless ``?token=`` is the
server's token (a Bearer header is not read), 409 while no model is loaded.

Usage::

    with FakeRasa(token="t", intents=["lapor_jalan", "cuaca"]) as rasa:
        ... WARGA_NLU_RASA_URL=rasa.url, WARGA_NLU_RASA_TOKEN="t" ...
"""

from __future__ import annotations

from urllib.parse import parse_qs

from tests.fakes._http import FakeServer, Recorded, Reply


class FakeRasa(FakeServer):
    def __init__(self, *, token: str = "", intents: list[str] | None = None, model: bool = True) -> None:
        super().__init__()
        self.token = token
        self.intents = list(intents or [])
        self.model = model

    def handle(self, request: Recorded) -> Reply:
        if self.token and parse_qs(request.query).get("token") != [self.token]:
            return Reply.json({"message": "User is not authenticated."}, status=401)
        if not self.model and request.path in ("/status", "/domain"):
            return Reply.json({"message": "No agent loaded."}, status=409)
        if request.path == "/status":
            return Reply.json({"model_file": "models/kota-20261101.tar.gz", "num_active_training_jobs": 0})
        if request.path == "/domain":
            return Reply.json({"intents": self.intents, "entities": [], "slots": {}})
        return Reply.json({"message": f"no {request.path}"}, status=404)
