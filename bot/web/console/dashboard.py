"""The dashboard (GET /console/dashboard): figures over a period, scoped like the inbox."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, render_template, request

from bot.casework import dashboard as figures_of
from bot.casework.complaints import CLOSED
from bot.casework.days import parse_day
from bot.casework.filter_refusal import FilterRefused
from bot.dialogue.texts import name_of
from bot.web.console import charts
from bot.web.console.blueprint import bp
from bot.web.console.common import console_now, current_runtime, login_required
from bot.web.console.inbox import viewer
from bot.web.console.labels import console_language, label, refusal

DEFAULT_DAYS = 30


def _day(name: str, default: date) -> date:
    value = (request.args.get(name) or "").strip()
    if not value:
        return default
    try:
        return parse_day(value, name)
    except FilterRefused as exc:
        abort(400, refusal(exc))


def hours_text(hours: float | None) -> str:
    if hours is None:
        return "-"
    if hours < 48:
        return label("dash.hours", n=f"{hours:.1f}")
    return label("dash.days", n=f"{hours / 24:.1f}")


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


@bp.get("/dashboard")
@login_required
def dashboard() -> Any:
    rt = current_runtime()
    settings = rt.settings
    zone = settings.timezone
    today = console_now().astimezone(ZoneInfo(zone)).date()
    last = _day("to", today)
    first = _day("from", last - timedelta(days=DEFAULT_DAYS - 1))
    try:
        period = figures_of.Period(first, last, zone)
    except ValueError as exc:
        abort(400, f"from/to: {exc}.")
    cats = settings.complaints.categories
    with rt.sessions() as s:
        fig = figures_of.figures(s, viewer(), period, {c.name: c.resolution_days for c in cats},
                                 settings.nlu.threshold)

    lang = console_language()

    def category_name(c: str) -> str:
        return name_of("category_names", c, lang)

    def status_name(st: str) -> str:
        return name_of("status_names", st, lang)

    ticks = [d.strftime("%d-%m") for d in period.days]
    per_day = charts.stacked_columns(ticks, [charts.Series(category_name(c), v) for c, v in fig.per_day.items()])
    statuses = [st for st in settings.complaints.transitions if st not in CLOSED]
    open_chart = charts.stacked_rows(
        [(agency, [by.get(st, 0) for st in statuses]) for agency, by in fig.open_by_agency.items()],
        [status_name(st) for st in statuses])
    sla_chart = charts.single_rows(
        [(a.agency, a.share or 0.0, f"{percent(a.share)} {label('inbox.of')} {a.resolved}") for a in fig.sla], peak=1.0)
    # These two sit side by side: narrower drawings, so their text keeps its size.
    channel_chart = charts.single_rows([(ch, n, str(n)) for ch, n in fig.channels.items()],
                                       width=440, label_width=80)
    rating_chart = charts.single_rows([("★" * (i + 1), n, str(n)) for i, n in enumerate(fig.ratings)],
                                      width=440, label_width=80)
    return render_template(
        "console/dashboard.html", fig=fig, period=period, per_day=per_day, open_chart=open_chart,
        sla_chart=sla_chart, channel_chart=channel_chart, rating_chart=rating_chart,
        hours_text=hours_text, percent=percent)
