"""Database models (SQLAlchemy 2 typed mappings). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    cast,
    false,
    literal_column,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.sql.elements import ColumnElement

from bot.store.column_types import UtcDateTime
from bot.store.places import normal_place


def utcnow() -> datetime:
    return datetime.now(UTC)


#: The inbound messages a conversation still has to answer, and the replies it still has to
#: send: the predicates of two partial indexes (see Message).
UNPROCESSED_PREDICATE = "direction = 'in' AND processed_at IS NULL"
OPEN_REPLIES_PREDICATE = "direction = 'out' AND status IN ('pending', 'sending')"
#: Inbound messages with attachments (an empty list is stored as the JSON text "[]").
WITH_MEDIA_PREDICATE = "direction = 'in' AND CAST(media AS TEXT) <> '[]'"


def unprocessed(m: Any) -> ColumnElement[bool]:
    """:data:`UNPROCESSED_PREDICATE` on ``m`` (``Message`` or its table's columns), in words
    that let PostgreSQL use its partial index in a prepared statement's plan."""
    return and_(m.direction == literal_column("'in'"), m.processed_at.is_(None))


def open_replies(m: Any) -> ColumnElement[bool]:
    """:data:`OPEN_REPLIES_PREDICATE` on ``m``, likewise."""
    return and_(m.direction == literal_column("'out'"),
                m.status.in_([literal_column("'pending'"), literal_column("'sending'")]))


def with_media(m: Any) -> ColumnElement[bool]:
    """:data:`WITH_MEDIA_PREDICATE` on ``m``, likewise."""
    return and_(m.direction == literal_column("'in'"), cast(m.media, Text) != literal_column("'[]'"))


# BigInteger ids on PostgreSQL, plain INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))                # admin | supervisor | staff
    agency: Mapped[str | None] = mapped_column(String(200))     # staff see their agency's complaints
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Staff who also answer the general intake queue (handovers whose topic the bot does not know).
    serves_intake: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A console sign-in. The cookie carries only ``token``; signing out revokes the row, so a
    copied cookie stops working, and a session unused for ``security.session_idle_minutes`` ends."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)   # sha256 of the cookie's token
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginThrottle(Base):
    """Failed sign-ins per account (``user:NAME``) and per client address (``addr:IP``)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    locked_at: Mapped[datetime | None] = mapped_column()      # locked until an admin unlocks it


class Contact(Base):
    """One citizen, who may write from several channel addresses."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), index=True)   # E.164, once known
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list[ContactAddress]] = relationship(back_populates="contact")


class ContactAddress(Base):
    """A channel address (URN) of a contact: "telegram:123", "tel:+62...", "whatsapp:+62..."."""

    __tablename__ = "contact_addresses"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    urn: Mapped[str] = mapped_column(String(300), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    opted_out_at: Mapped[datetime | None] = mapped_column()      # STOP / BERHENTI
    unreachable_at: Mapped[datetime | None] = mapped_column()    # blocked the bot, 21610, ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="addresses")


class Conversation(Base):
    """The running conversation with one address. ``state`` is the dialogue's memory."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("contact_addresses.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    handover: Mapped[bool] = mapped_column(Boolean, default=False)   # a person is handling it
    # The agency whose queue the handover waits in; None: the general intake queue. Set when
    # the handover starts (bot/casework/queues.py), cleared with it.
    handover_agency: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship()
    address: Mapped[ContactAddress] = relationship()


class Message(Base):
    """Every inbound and outbound message, the outbox included.

    Inbound: ``processed_at`` is set in the same transaction that stores the replies, so a
    message is handled exactly once. Outbound: ``status`` moves pending → queued → sent →
    delivered → read (never backwards), or to held / failed.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),
        Index("ix_messages_outbox", "direction", "status", "next_attempt_at"),
        Index("ix_messages_conversation", "conversation_id", "id"),
        # What a conversation still has to do, however long its history (migration 0013). The
        # statements that use them name 'in' / 'out' and the statuses as literals (pipeline/
        # process.py, outbox.py): a bound value would not prove a prepared plan may use them.
        Index("ix_messages_unprocessed", "conversation_id", "id",
              postgresql_where=sql_text(UNPROCESSED_PREDICATE), sqlite_where=sql_text(UNPROCESSED_PREDICATE)),
        Index("ix_messages_open_replies", "conversation_id", "id",
              postgresql_where=sql_text(OPEN_REPLIES_PREDICATE), sqlite_where=sql_text(OPEN_REPLIES_PREDICATE)),
        Index("ix_messages_with_media", "conversation_id", "id",
              postgresql_where=sql_text(WITH_MEDIA_PREDICATE), sqlite_where=sql_text(WITH_MEDIA_PREDICATE)),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))            # in | out
    channel: Mapped[str] = mapped_column(String(20))
    # message|edited|group|member|ignored|unparseable|status
    kind: Mapped[str] = mapped_column(String(20), default="message")
    external_id: Mapped[str | None] = mapped_column(String(200))  # inbound: provider's id
    urn: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[Any]] = mapped_column(default=list)     # [{"title","payload"}]
    media: Mapped[list[Any]] = mapped_column(default=list)       # [{"url","content_type","caption"}]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address_text: Mapped[str | None] = mapped_column(Text)
    button_payload: Mapped[str | None] = mapped_column(String(200))
    shared_phone: Mapped[str | None] = mapped_column(String(40))   # a contact the citizen shared
    # Neutral facts the connector reported (channels.base.ContactEvent: opt_out, opt_in, help,
    # blocked, unblocked), and whether the provider already answered the keyword itself.
    contact_event: Mapped[str | None] = mapped_column(String(20))
    provider_answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    nlu: Mapped[dict[str, Any] | None] = mapped_column()        # intent, confidence, entities, engine
    template: Mapped[str | None] = mapped_column(String(60))     # notification kind, for templates
    template_vars: Mapped[dict[str, Any] | None] = mapped_column()
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)   # of a reply split in parts
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    deadline_at: Mapped[datetime | None] = mapped_column()
    raw: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column()
    processed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    status_at: Mapped[datetime | None] = mapped_column()
    # Outbound: the staff member who wrote it (None: the bot or a notification).
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class ProviderMessageId(Base):
    """Every provider id of an outbound message (a long Telegram reply goes out as several)."""

    __tablename__ = "provider_message_ids"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)


class DeliveryReceipt(Base):
    """A provider status callback, kept even when it names a message we have not recorded yet."""

    __tablename__ = "delivery_receipts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_reason: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(String(30))   # channels.base.SendFailure, if failed
    raw: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column()


class TicketCounter(Base):
    """The last ticket number per prefix and year, incremented atomically."""

    __tablename__ = "ticket_counters"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Complaint(Base):
    __tablename__ = "complaints"
    # The inbox's views (bot/casework/inbox.py; measured by bench/inbox.py, migration 0008):
    # a filter's equality columns first, then its sort (id: newest/oldest) or range (due_at:
    # overdue, counted per open status). Staff always filter by their agency, so theirs lead.
    __table_args__ = (
        Index("ix_complaints_status_id", "status", "id"),
        Index("ix_complaints_status_due_at", "status", "due_at"),
        Index("ix_complaints_due_at", "due_at"),        # most overdue first: walk it, stop after a page
        Index("ix_complaints_agency_id", "agency", "id"),
        Index("ix_complaints_agency_status_id", "agency", "status", "id"),
        Index("ix_complaints_agency_status_due_at", "agency", "status", "due_at"),
        Index("ix_complaints_created_at", "created_at"),
        Index("ix_complaints_updated_at", "updated_at"),   # the inbox's counts cache: max() is a look-up
        # Category + channel, sorted by due time: the count reads the index alone (migration 0010).
        Index("ix_complaints_category_channel_due_at", "category", "channel", "due_at"),
        # An open complaint at the same address: one look-up (bot/casework/duplicates.py).
        Index("ix_complaints_category_location_key", "category", "location_key"),
        # Word search: FTS5 (SQLite) and trigram (PostgreSQL) indexes that a model cannot
        # describe are made by migration 0010 and listed in bot/store/text_search.py.
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(30), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40), index=True)
    agency: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text)
    location_text: Mapped[str | None] = mapped_column(Text)
    #: ``location_text`` as complaints are compared (bot/store/places.py), kept by the model.
    location_key: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    media: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="id")
    status: Mapped[str] = mapped_column(String(30), index=True)
    due_at: Mapped[datetime | None] = mapped_column()
    rating: Mapped[int | None] = mapped_column(Integer)
    # The staff member working it (None: nobody yet); the inbox filters "mine" and "unassigned".
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # Staff marked it a duplicate of this (root) complaint; its citizen follows that one instead.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id")

    @validates("location_text")
    def _keep_location_key(self, _key: str, value: str | None) -> str | None:
        # Whoever sets the address (filing, a staff correction) sets its key with it.
        self.location_key = normal_place(value) or None
        return value


class ComplaintFollower(Base):
    """A citizen who reported the same problem and joined this complaint: they are told of its
    status changes on their own conversation, like its owner."""

    __tablename__ = "complaint_followers"
    __table_args__ = (UniqueConstraint("complaint_id", "contact_id", name="uq_complaint_followers"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplaintEvent(Base):
    """Every status change, note, reply and correction on a complaint, with who and when."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    # created | status | note | reply | rating | edit | reroute | assign
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    # What a correction changed (edit: category | description | location; reroute: agency;
    # assign: assignee), old -> new as shown to people, so history reads without the old row.
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))            # "citizen", "system", "staff:<username>"
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="events")


class ConversationEvent(Base):
    """Who took, replied in or released a conversation, and when (shown in the transcript)."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))              # take | reply | release
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    actor: Mapped[str] = mapped_column(String(120))            # "staff:<username>"
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- NLU training data, its history and the model registry (bot/training) ----------------------


class NluIntent(Base):
    """An intent the bot may be taught (Warga's own and those admins add)."""

    __tablename__ = "nlu_intents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NluExample(Base):
    """One training sentence. ``split`` (train | heldout) is fixed when it is added, so a
    held-out sentence never reaches any model's training and scores stay honest."""

    __tablename__ = "nlu_examples"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    intent: Mapped[str] = mapped_column(String(80), index=True)
    text: Mapped[str] = mapped_column(Text)
    # casefolded, whitespace-collapsed text: the same sentence can be under one intent only
    text_key: Mapped[str] = mapped_column(String(64), unique=True)
    entities: Mapped[list[Any]] = mapped_column(default=list)   # [{entity,start,end,value,role}]
    split: Mapped[str] = mapped_column(String(8), default="train")
    origin: Mapped[str] = mapped_column(String(20), default="seed")  # seed | import | console | inbox
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NluSynonym(Base):
    __tablename__ = "nlu_synonyms"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    value: Mapped[str] = mapped_column(String(200), unique=True)
    examples: Mapped[list[Any]] = mapped_column(default=list)


class NluRegex(Base):
    __tablename__ = "nlu_regexes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    patterns: Mapped[list[Any]] = mapped_column(default=list)


class NluLookup(Base):
    __tablename__ = "nlu_lookups"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    elements: Mapped[list[Any]] = mapped_column(default=list)


class NluChange(Base):
    """Who changed the training data or the models, when, and what (the history page)."""

    __tablename__ = "nlu_changes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))             # "staff:<username>", "cli", "system"
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[str] = mapped_column(String(40))               # example_added, model_activated, ...
    subject: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class NluReview(Base):
    """What an admin decided about a message in the NLU inbox."""

    __tablename__ = "nlu_reviews"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(12))            # confirmed | corrected | dismissed
    intent: Mapped[str | None] = mapped_column(String(80))
    example_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_examples.id"))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NluModel(Base):
    """One trained (or training, or failed) model version. At most one row is ``active``: the
    row every process's NLU holder compares its loaded version with."""

    __tablename__ = "nlu_models"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[str] = mapped_column(String(80), unique=True)
    engine: Mapped[str] = mapped_column(String(20))
    # queued | training | trained | active | refused | failed
    status: Mapped[str] = mapped_column(String(12), index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)      # percent
    data_hash: Mapped[str | None] = mapped_column(String(40))
    trained_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    trained_at: Mapped[datetime | None] = mapped_column()
    # Written every HEARTBEAT_SECONDS while a training runs: a stale one means its process died.
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    examples: Mapped[int] = mapped_column(Integer, default=0)
    accuracy: Mapped[float | None] = mapped_column(Float)
    macro_f1: Mapped[float | None] = mapped_column(Float)
    cv_accuracy: Mapped[float | None] = mapped_column(Float)
    cv_macro_f1: Mapped[float | None] = mapped_column(Float)
    below_threshold: Mapped[float | None] = mapped_column(Float)
    per_intent_f1: Mapped[dict[str, Any]] = mapped_column(default=dict)
    confusion_path: Mapped[str | None] = mapped_column(String(500))
    model_path: Mapped[str | None] = mapped_column(String(500))
    # A Rasa version's sklearn model, trained on the same snapshot: it answers whenever the Rasa
    # server cannot (down, slow, loading this very model). None for a sklearn version.
    twin_path: Mapped[str | None] = mapped_column(String(500))
    # How each score was measured ({"heldout": ..., "cv": ..., "twin": ...}): a Rasa version's
    # cross-validation is its twin's (five Rasa trainings would cost minutes), said here.
    score_methods: Mapped[dict[str, Any] | None] = mapped_column()
    log: Mapped[str] = mapped_column(Text, default="")
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    activated_at: Mapped[datetime | None] = mapped_column()
    activated_by: Mapped[str | None] = mapped_column(String(120))
