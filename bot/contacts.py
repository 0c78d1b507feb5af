"""Contacts, their channel addresses and their conversations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Contact, ContactAddress, Conversation


class ContactRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def address(self, urn: str) -> ContactAddress | None:
        return self.s.scalars(select(ContactAddress).where(ContactAddress.urn == urn)).first()

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
        try:
            with self.s.begin_nested():
                contact = Contact(name=(name or None) and name[:200])
                addr = ContactAddress(urn=urn, channel=channel, contact=contact)
                self.s.add(addr)
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
