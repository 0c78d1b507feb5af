"""``warga complaints`` and ``warga conversations``: staff work from the terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import select

from bot.casework.conversation_state import handover_of
from bot.casework.local_time import local
from bot.casework.staff import StaffService
from bot.casework.staff_types import StaffError, Woken
from bot.cli.support import settings_of
from bot.dialogue.texts import name_of
from bot.store.models import Complaint

_settings = settings_of


def _run(ctx: click.Context, action: Callable[[StaffService], Any]) -> Any:
    from bot.store.engine import make_engine, make_session_factory

    settings = _settings(ctx)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as s, s.begin():
            result = action(StaffService(s, settings))
        if isinstance(result, Woken) and settings.queue.backend == "redis":
            # Thread-backend web processes pick new outbound messages up on their next sweep.
            from bot.pipeline.queue import RedisQueue

            q = RedisQueue(settings.queue.redis_url, sessions, settings.queue.stall_seconds)
            for conv_id in result.conversation_ids:
                q.enqueue(conv_id)
    except StaffError as exc:
        click.echo(f"warga: {exc}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    return result


@click.group("complaints")
def complaints_group() -> None:
    """List and work complaints."""


@complaints_group.command("list")
@click.option("--status", default=None, help="Only this status (e.g. menunggu).")
@click.option("--agency", default=None, help="Only this agency.")
@click.option("--overdue", is_flag=True, help="Only complaints past their due time.")
@click.pass_context
def list_complaints(ctx: click.Context, status: str | None, agency: str | None, overdue: bool) -> None:
    """List complaints, newest first."""
    def action(svc: StaffService) -> None:
        rows = svc.overdue() if overdue else list(
            svc.s.scalars(select(Complaint).order_by(Complaint.id.desc()).limit(500)))
        for c in rows:
            if (status and c.status != status) or (agency and c.agency != agency):
                continue
            flag = " OVERDUE" if svc.complaints.overdue(c) and c.status not in ("selesai", "ditolak") else ""
            filed = local(c.created_at, svc.settings.timezone, "%Y-%m-%d %H:%M")
            click.echo(f"{c.ticket}  {c.status:<18} {c.category:<16} {c.agency}  {filed}{flag}")
    _run(ctx, action)


@complaints_group.command("show")
@click.argument("ticket")
@click.pass_context
def show(ctx: click.Context, ticket: str) -> None:
    """Show a complaint and its history."""
    def action(svc: StaffService) -> None:
        c = svc.complaints.by_ticket(ticket)
        if c is None:
            raise StaffError(f"no complaint {ticket}")
        click.echo(f"{c.ticket}  {name_of('status_names', c.status, 'id')}  {c.category} → {c.agency}")
        tz = svc.settings.timezone
        click.echo(f"filed {local(c.created_at, tz)} via {c.channel}; due {local(c.due_at, tz)}")
        point = f" ({c.latitude}, {c.longitude})" if c.latitude is not None else ""
        click.echo(f"location: {c.location_text or '-'}{point}")
        click.echo(f"media: {len(c.media)}; rating: {c.rating or '-'}")
        click.echo(c.description)
        for e in c.events:
            change = f"{e.from_status or ''} → {e.to_status}" if e.kind == "status" else (e.to_status or "")
            click.echo(f"  {local(e.created_at, tz)} {e.kind:<8} {change} {e.actor} {e.note or ''}".rstrip())
    _run(ctx, action)


@complaints_group.command("set-status")
@click.argument("ticket")
@click.argument("status")
@click.option("--by", "username", required=True, help="Your staff username.")
@click.option("--note", default=None, help="A note (required for ditolak: the reason).")
@click.pass_context
def set_status(ctx: click.Context, ticket: str, status: str, username: str, note: str | None) -> None:
    """Move a complaint to STATUS; the citizen is notified."""
    _run(ctx, lambda svc: svc.set_status(ticket, status, username, note))
    click.echo(f"{ticket.upper()} → {status}; the citizen will be notified")


@complaints_group.command("reply")
@click.argument("ticket")
@click.argument("text")
@click.option("--by", "username", required=True, help="Your staff username.")
@click.pass_context
def reply_complaint(ctx: click.Context, ticket: str, text: str, username: str) -> None:
    """Send the citizen a message about their complaint."""
    _run(ctx, lambda svc: svc.reply_to_complaint(ticket, text, username))
    click.echo("reply queued")


@complaints_group.command("note")
@click.argument("ticket")
@click.argument("text")
@click.option("--by", "username", required=True, help="Your staff username.")
@click.pass_context
def note(ctx: click.Context, ticket: str, text: str, username: str) -> None:
    """Add an internal note (not sent to the citizen)."""
    _run(ctx, lambda svc: svc.note(ticket, text, username))
    click.echo("note added")


@complaints_group.command("mark-duplicate")
@click.argument("ticket")
@click.argument("original")
@click.option("--by", "username", required=True, help="Your staff username.")
@click.pass_context
def mark_duplicate(ctx: click.Context, ticket: str, original: str, username: str) -> None:
    """Close TICKET as a duplicate of ORIGINAL; its citizen follows ORIGINAL and is told its number."""
    _run(ctx, lambda svc: svc.mark_duplicate(ticket, original, username))
    click.echo(f"{ticket.upper()} is a duplicate of {original.upper()}; the citizen will be told")


@click.group("conversations")
def conversations_group() -> None:
    """Conversations handed over to staff."""


@conversations_group.command("queue")
@click.pass_context
def queue(ctx: click.Context) -> None:
    """Conversations waiting for a person."""
    def action(svc: StaffService) -> None:
        for conv in svc.handover_queue():
            handover = handover_of(conv)
            reason = "" if handover is None else handover.reason + (f" ({handover.staff})" if handover.staff else "")
            click.echo(f"{conv.id}  {conv.channel:<9} {conv.address.urn}  {reason}  "
                       f"since {conv.updated_at:%Y-%m-%d %H:%M}  queue: {conv.handover_agency or 'intake'}")
    _run(ctx, action)


@conversations_group.command("show")
@click.argument("conversation_id", type=int)
@click.option("--by", "username", required=True, help="Your staff username (staff see their agency's).")
@click.pass_context
def transcript(ctx: click.Context, conversation_id: int, username: str) -> None:
    """Print the transcript with delivery statuses and what staff did."""
    def action(svc: StaffService) -> None:
        rows: list[tuple[Any, int, str]] = []
        for m in svc.transcript(conversation_id, username):
            who = "citizen" if m.direction == "in" else ("staff" if m.staff_user_id else "warga")
            extra = f" [{m.status}{': ' + m.error_reason if m.error_reason else ''}]"
            rows.append((m.created_at, 1, f"{who:>7}: {m.text}{extra}"))
        for e in svc.events(conversation_id):
            rows.append((e.created_at, 0, f"  event: {e.kind} by {e.actor}"))
        for at, _, line in sorted(rows, key=lambda r: (r[0], r[1])):
            click.echo(f"{local(at, svc.settings.timezone, '%Y-%m-%d %H:%M:%S')} {line}")
    _run(ctx, action)


@conversations_group.command("take")
@click.argument("conversation_id", type=int)
@click.option("--by", "username", required=True, help="Your staff username.")
@click.pass_context
def take(ctx: click.Context, conversation_id: int, username: str) -> None:
    """Take a conversation over: the bot stays quiet until you release it."""
    _run(ctx, lambda svc: svc.take_over(conversation_id, username))
    click.echo(f"conversation {conversation_id} is with you")


@conversations_group.command("reply")
@click.argument("conversation_id", type=int)
@click.argument("text")
@click.option("--by", "username", required=True, help="Your staff username.")
@click.pass_context
def reply(ctx: click.Context, conversation_id: int, text: str, username: str) -> None:
    """Send a message as staff."""
    _run(ctx, lambda svc: svc.reply(conversation_id, text, username))
    click.echo("reply queued")


@conversations_group.command("release")
@click.argument("conversation_id", type=int)
@click.option("--by", "username", required=True, help="Your staff username.")
@click.pass_context
def release(ctx: click.Context, conversation_id: int, username: str) -> None:
    """Hand the conversation back to the bot."""
    _run(ctx, lambda svc: svc.release(conversation_id, username))
    click.echo(f"conversation {conversation_id} is back with the bot")
