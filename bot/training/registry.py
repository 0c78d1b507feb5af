"""The model registry: every trained version with its scores; which one is active.

At most one ``nlu_models`` row has status ``active``; each process's NLU holder
(:mod:`bot.training.live`) compares its loaded version with that row. Activation refuses a
version the gate refused unless an admin gives a written reason; every activation and roll-back
is recorded in ``nlu_changes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.store.models import NluModel, utcnow
from bot.training.store import Actor, TrainingInputError, TrainingStore

#: Statuses of a training that has not finished.
RUNNING = ("queued", "training")
#: A training whose heartbeat is older than this was abandoned (its process died).
STALE_TRAINING = timedelta(minutes=2)
#: A queued training no worker started within this was abandoned (no `warga worker` running).
STALE_QUEUED = timedelta(minutes=30)
#: Statuses of a finished model that may be activated.
USABLE = ("trained", "active", "refused")


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """What a process needs to serve the active version (read on every check: keep it small)."""

    version: str
    engine: str
    model_path: str | None
    #: A Rasa version's sklearn twin (answers while the Rasa server cannot); None for sklearn.
    twin_path: str | None = None


def registry_dir(models_dir: Path) -> Path:
    """Where registry models and their confusion pictures live (shared by every process)."""
    return Path(models_dir) / "registry"


def active_model(session: Session) -> ActiveModel | None:
    """The cheap check every process makes: one indexed row, four columns."""
    row = session.execute(select(NluModel.version, NluModel.engine, NluModel.model_path, NluModel.twin_path)
                          .where(NluModel.status == "active").limit(1)).first()
    return ActiveModel(*row) if row is not None else None


def _abandoned(row: NluModel, now: datetime) -> bool:
    if row.status == "training":
        return (row.heartbeat_at or row.created_at) < now - STALE_TRAINING
    return row.created_at < now - STALE_QUEUED


class Registry:
    def __init__(self, session: Session) -> None:
        self.s = session

    def versions(self, limit: int = 50) -> Sequence[NluModel]:
        return self.s.scalars(select(NluModel).order_by(NluModel.id.desc()).limit(limit)).all()

    def get(self, version: str) -> NluModel | None:
        return self.s.scalar(select(NluModel).where(NluModel.version == version))

    def active(self) -> NluModel | None:
        return self.s.scalar(select(NluModel).where(NluModel.status == "active"))

    def running(self) -> NluModel | None:
        return self.s.scalar(select(NluModel).where(NluModel.status.in_(RUNNING)).order_by(NluModel.id))

    def _mutex(self) -> None:
        """Serialise requests to train across processes: a transaction-scoped advisory lock on
        PostgreSQL; SQLite transactions already take the write lock at BEGIN (store/engine.py)."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("SELECT pg_advisory_xact_lock(1013)"))

    def request(self, engine: str, actor: Actor, *, now: datetime | None = None) -> NluModel:
        """Queue one training. Only one runs at a time, across every process.

        A training whose process died (no heartbeat for :data:`STALE_TRAINING`), or a queued one
        no worker took within :data:`STALE_QUEUED`, is marked failed first, so it cannot block
        training for ever.

        Raises:
            TrainingInputError: A training is already queued or running.
        """
        now = now or utcnow()
        self._mutex()
        current = self.running()
        if current is not None and _abandoned(current, now):
            current.error = ("ditinggalkan: proses pelatihannya berhenti sebelum selesai"
                             if current.status == "training" else "ditinggalkan: tidak ada worker yang mengambilnya")
            current.status = "failed"
            current.progress = 100
            current = None
        if current is not None:
            raise TrainingInputError(f"Pelatihan {current.version} masih berjalan; tunggu sampai selesai.")
        version = f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{engine}"
        n = 2
        while self.get(version) is not None:
            version = f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{engine}-{n}"
            n += 1
        row = NluModel(version=version, engine=engine, status="queued", trained_by=actor.name,
                       created_at=now, log=f"queued by {actor.name}\n", per_intent_f1={})
        self.s.add(row)
        self.s.flush()
        TrainingStore(self.s).record(actor, "training_requested", version, engine=engine)
        return row

    def activate(self, version: str, actor: Actor, *, override_reason: str = "",
                 now: datetime | None = None) -> NluModel:
        """Make ``version`` the active one (every process switches to it).

        Raises:
            TrainingInputError: Unknown or unfinished version, or a refused one without a reason.
        """
        row = self.get(version)
        if row is None or row.status not in USABLE or not row.model_path:
            raise TrainingInputError("Versi model ini tidak dapat diaktifkan.")
        if row.status == "active":
            raise TrainingInputError(f"Versi {version} sudah aktif.")
        reason = " ".join(override_reason.split())
        if row.status == "refused":
            if len(reason) < 10:
                raise TrainingInputError("Model ini ditolak oleh gerbang evaluasi: tulis alasan (min. 10 karakter) "
                                         "untuk tetap mengaktifkannya.")
            row.override_reason = reason[:2000]
        previous = self.active()
        if previous is not None:
            previous.status = "trained" if previous.refusal_reason is None or previous.override_reason else "refused"
        row.status = "active"
        row.activated_at = now or utcnow()
        row.activated_by = actor.name
        TrainingStore(self.s).record(actor, "model_activated", version,
                                     previous=previous.version if previous else None,
                                     override_reason=row.override_reason if row.refusal_reason else None)
        return row

    def rollback(self, actor: Actor, *, now: datetime | None = None) -> str | None:
        """Go back to the version active before the current one (or, if there was none, to the
        model the installation started with). Returns the version now active, or None.

        Raises:
            TrainingInputError: Nothing is active.
        """
        current = self.active()
        if current is None:
            raise TrainingInputError("Tidak ada model dari daftar ini yang aktif.")
        earlier = self.s.scalar(select(NluModel).where(
            NluModel.activated_at.is_not(None), NluModel.id != current.id,
            NluModel.status.in_(("trained", "refused")), NluModel.model_path.is_not(None),
            NluModel.activated_at <= current.activated_at).order_by(NluModel.activated_at.desc()).limit(1))
        current.status = "refused" if current.refusal_reason and not current.override_reason else "trained"
        if earlier is not None:
            earlier.status = "active"
            earlier.activated_at = now or utcnow()
            earlier.activated_by = actor.name
        TrainingStore(self.s).record(actor, "model_rolled_back", current.version,
                                     now_active=earlier.version if earlier else "(model awal)")
        return earlier.version if earlier is not None else None
