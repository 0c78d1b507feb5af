"""The ceiling of bench/load.py: a bare Flask endpoint shaped like the chat API, no database.

Served by the same gunicorn set-up as `warga serve` (gthread, 8 threads per worker)::

    .venv/bin/gunicorn -w 2 -k gthread --threads 8 bench.bare_app:app
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/chat/messages")
def post_message() -> Any:
    data = request.get_json(force=True)
    return jsonify(message_id=0, duplicate=False, pending=False,
                   replies=[{"id": 0, "text": f"echo: {data.get('text', '')}", "buttons": []}])


@app.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")
