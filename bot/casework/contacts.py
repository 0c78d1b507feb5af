"""Contacts, their channel addresses and their conversations.

One citizen may write from Telegram, SMS and WhatsApp. Addresses that carry a phone number
(``tel:``, ``whatsapp:``) join the contact with that number; a phone number shared on
Telegram links that Telegram account too, merging contacts when needed, so a status check on
WhatsApp finds a complaint filed on Telegram.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import Complaint, Contact, ContactAddress, Conversation

PHONE_URN = re.compile(r"^(tel|whatsapp):(\+\d{6,16})$")


def normalize_phone(number: str | None, country_code: str = "62") -> str | None:
    """E.164 from what people and providers write: "0812-3456-7890" → "+6281234567890"."""
    if not number:
        return None
    digits = re.sub(r"\D", "", number)
    if not digits:
        return None
    if number.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return f"+{country_code}{digits[1:]}"
    return "+" + digits


def phone_of_urn(urn: str) -> str | None:
    m = PHONE_URN.match(urn)
    return m.group(2) if m else None


class ContactRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def address(self, urn: str) -> ContactAddress | None:
        return self.s.scalars(select(ContactAddress).where(ContactAddress.urn == urn)).first()

    def _contact_with_phone(self, phone: str) -> Contact | None:
        return self.s.scalars(select(Contact).where(Contact.phone == phone).order_by(Contact.id)).first()

    def get_or_create_address(self, urn: str, channel: str, name: str | None = None) -> ContactAddress:
        """The address for ``urn``, creating the contact on first contact.

        Two workers may see a new citizen at once; the unique URN decides who wins and the
        loser reads the winner's row.
        """
        found = self.address(urn)
        if found is not None:
            if name and not found.contact.name:
                found.contact.name = name[:200]
            return found
        phone = phone_of_urn(urn)
        try:
            with self.s.begin_nested():
                contact = self._contact_with_phone(phone) if phone else None
                if contact is None:
                    contact = Contact(name=(name or None) and name[:200], phone=phone)
                    self.s.add(contact)
                    self.s.flush()
                addr = ContactAddress(urn=urn, channel=channel, contact_id=contact.id)
                self.s.add(addr)
                self.s.flush()
            self.s.refresh(addr)
            return addr
        except IntegrityError:
            found = self.address(urn)
            assert found is not None
            return found

    def conversation_for(self, address: ContactAddress) -> Conversation:
        conv = self.s.scalars(select(Conversation).where(Conversation.address_id == address.id)).first()
        if conv is not None:
            return conv
        try:
            with self.s.begin_nested():
                conv = Conversation(contact_id=address.contact_id, address_id=address.id,
                                    channel=address.channel, state={})
                self.s.add(conv)
            return conv
        except IntegrityError:
            return self.s.scalars(
                select(Conversation).where(Conversation.address_id == address.id)).one()

    def link_phone(self, address: ContactAddress, phone: str) -> Contact:
        """Record the citizen's phone number and merge every contact that has it into one.

        The oldest contact survives; addresses, conversations and complaints move to it.
        """
        phone = normalize_phone(phone) or phone
        urns = [f"tel:{phone}", f"whatsapp:{phone}"]
        others = self.s.scalars(select(Contact).where(or_(
            Contact.phone == phone,
            Contact.id.in_(select(ContactAddress.contact_id).where(ContactAddress.urn.in_(urns))),
            Contact.id == address.contact_id)).order_by(Contact.id)).all()
        keep = others[0]
        for other in others[1:]:
            for model in (ContactAddress, Conversation, Complaint):
                self.s.execute(update(model).where(model.contact_id == other.id)
                               .values(contact_id=keep.id).execution_options(synchronize_session=False))
            keep.name = keep.name or other.name
            keep.language = keep.language or other.language
            self.s.flush()
            # A bulk delete: the ORM would try to detach the (already moved) addresses.
            self.s.execute(delete(Contact).where(Contact.id == other.id)
                           .execution_options(synchronize_session=False))
        keep.phone = phone
        self.s.flush()
        self.s.expire_all()
        return keep
