"""The ceiling of bench/load.py: a bare Flask endpoint shaped like the chat API, no database.

Served by the same server as `warga serve`: gunicorn's processes with Warga's waitress worker
(bot/web/server.py), as many request threads each (server.threads, default 2)::

    .venv/bin/gunicorn -w 2 -k bot.web.server.WaitressWorker --threads 2 bench.bare_app:app
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from flask import Flask, jsonify, request


class _JsonLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"logger": record.name, "msg": record.getMessage(),
                           "pid": getattr(record, "pid", os.getpid())})


# The worker's "worker serving" line, as `warga serve` writes it: bench/load.py starts the load
# once every worker process has said it.
_handler = logging.StreamHandler()
_handler.setFormatter(_JsonLine())
_server_log = logging.getLogger("bot.web.server")
_server_log.addHandler(_handler)
_server_log.setLevel(logging.INFO)

app = Flask(__name__)


@app.post("/api/v1/chat/messages")
def post_message() -> Any:
    data = request.get_json(force=True)
    return jsonify(message_id=0, duplicate=False, pending=False,
                   replies=[{"id": 0, "text": f"echo: {data.get('text', '')}", "buttons": []}])


@app.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")
