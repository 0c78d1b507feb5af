"""The intents and entities Warga understands: the one list every part of nlu/ checks against.

The names come from issue 4 and are used by the dialogue (bot/dialogue) and by config.yml's
complaint categories, so renaming one here is a breaking change.
"""

from __future__ import annotations

#: One intent per complaint category; the category routes the ticket to an agency.
COMPLAINT_INTENTS: tuple[str, ...] = (
    "report_road_damage",
    "report_flood",
    "report_drainage",
    "report_garbage",
    "report_street_light",
    "report_tree",
    "report_illegal_parking",
    "report_traffic",
    "report_street_vendor",
    "report_public_facility",
    "report_pollution",
    "report_public_service",
    "report_start",
)

#: Public-service questions answered from the knowledge base.
QUESTION_INTENTS: tuple[str, ...] = (
    "ask_id_card",
    "ask_family_card",
    "ask_civil_certificate",
    "ask_moving_domicile",
    "ask_office_hours",
    "ask_tax",
    "ask_health_insurance",
    "ask_social_aid",
    "ask_business_permit",
    "ask_emergency",
)

#: Conversation control.
CONVERSATION_INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "check_status",
    "request_human",
    "help",
    "cancel",
    "bot_challenge",
    "out_of_scope",
)

#: Every intent, in a stable order (also the row order of confusion matrices).
INTENTS: tuple[str, ...] = COMPLAINT_INTENTS + QUESTION_INTENTS + CONVERSATION_INTENTS

#: Entities the dialogue consumes.
ENTITIES: tuple[str, ...] = ("ticket_id", "location")

#: The issue asks for at least this many examples per intent (25 Indonesian + 5 English).
MIN_EXAMPLES_PER_INTENT = 30
