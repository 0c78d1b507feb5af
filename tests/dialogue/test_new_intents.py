"""An intent admins added in the console goes to a person until something answers it (issue 13)."""

import pytest

from bot.dialogue.new_intents import unanswered
from tests.dialogue.chat import Chat


@pytest.mark.parametrize("intent", ["report_potholes_new", "parking_permit"])
def test_a_new_intent_with_no_answer_hands_over_with_its_reason(intent):
    chat = Chat()
    assert chat.say("bagaimana dengan parkir liar berbayar di pasar", intent) == ["handover_started"]
    assert chat.handover == "new_intent"


def test_a_new_intent_is_answered_once_a_category_exists_and_questions_by_the_knowledge_base():
    assert not unanswered("report_potholes_new", has_category=True)
    assert not unanswered("ask_parking_permit", has_category=False)
    assert not unanswered("greet", has_category=False)
    assert Chat().say("syarat bikin paspor?", "ask_passport") == ["kb_not_covered"]
