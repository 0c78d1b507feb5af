"""Times are shown in the city's zone (config `city.timezone`) in the console and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from bot.casework.local_time import SHORT, local
from bot.store.models import Complaint
from tests.bot.citizen import file_complaint
from tests.bot.test_console import login, staffed  # noqa: F401  (fixture)


def test_utc_is_shown_in_the_city_zone_with_its_abbreviation() -> None:
    at = datetime(2026, 11, 29, 20, 30, tzinfo=UTC)
    assert local(at, "Asia/Jakarta") == "30-11-2026 03:30 WIB"
    assert local(at, "Asia/Makassar", SHORT) == "30-11 04:30 WITA"
    assert local(at.replace(tzinfo=None), "Asia/Jayapura") == "30-11-2026 05:30 WIT"   # naive rows are UTC
    assert local(None, "Asia/Jakarta") == "-"


def test_the_complaint_page_and_the_cli_show_the_same_local_time(staffed: Any, client: Any) -> None:  # noqa: F811
    _, ticket = file_complaint(client, "jalan berlubang besar di Jl. Salemba Raya")
    rt = staffed.extensions["warga"]
    with rt.sessions() as s:
        filed = s.scalars(select(Complaint).where(Complaint.ticket == ticket)).one().created_at
    shown = local(filed, rt.settings.timezone)
    assert shown.endswith(" WIB")
    login(client, "dina")
    page = client.get(f"/console/complaints/{ticket}").get_data(as_text=True)
    assert shown in page and " UTC" not in page

    from bot.cli.main import cli

    out = CliRunner().invoke(cli, ["complaints", "show", ticket], env={"WARGA_DATABASE_URL": rt.settings.database_url})
    assert out.exit_code == 0, out.output
    assert f"filed {shown} via web" in out.output
