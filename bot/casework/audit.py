"""The account audit trail: one JSON line per change in ``<var_dir>/audit.jsonl``.

The schema has no table for account changes; the CLI (``warga users``) and the console's user
pages both append here, saying who made the change and through which door ("cli", "console").
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

audit_log = logging.getLogger("warga.audit")


def append_audit(var_dir: Path, *, by: str, via: str, action: str, username: str,
                 **details: Any) -> OSError | None:
    """Append one entry; the error if the file could not be written (the change is already
    committed, so the caller says it went unrecorded rather than failing)."""
    entry = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "by": by, "via": via,
             "action": action, "user": username, **details}
    audit_log.info("account %s: %s", action, username, extra={"audit": entry})
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        with open(var_dir / "audit.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError as exc:
        return exc
    return None
