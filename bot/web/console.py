"""The staff console (its own issue builds it out); for now a page saying where things stand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from bot.models import Complaint, Message

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.get("/")
def index() -> Any:
    rt = current_app.extensions["warga"]
    with rt.sessions() as s:
        complaints = s.scalar(select(func.count()).select_from(Complaint)) or 0
        messages = s.scalar(select(func.count()).select_from(Message)) or 0
    return render_template("console.html", complaints=complaints, messages=messages)
