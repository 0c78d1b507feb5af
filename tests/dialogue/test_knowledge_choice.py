"""Knowledge answers answer the question asked (issue 11, item 9).

The NLU picks an ``ask_*`` intent; the words of the question then pick the sub-answer (``topics``)
inside that article, or another article they clearly name, or, for a subject the knowledge base
does not cover (a driving licence, a passport), an honest "not in my knowledge" naming the office
to ask. Each case is written several ways, in both languages, with the intent a misled NLU gave.
"""

from __future__ import annotations

import pytest

from tests.dialogue.chat import KB, Chat

# (text, intent the NLU gave, language, expected reply keys)
TOPICS = [
    # "cara bayar pbb" mixed in vehicle tax: property tax only.
    ("cara bayar pbb", "ask_tax", "id", ["kb:ask_tax.property"]),
    ("bayar pajak bumi dan bangunan dimana ya?", "ask_tax", "id", ["kb:ask_tax.property"]),
    ("gimana cara bayar PBB rumah saya", "ask_office_hours", "id", ["kb:ask_tax.property"]),
    ("how do I pay property tax?", "ask_tax", "en", ["kb:ask_tax.property"]),
    ("how to pay pbb online", "ask_tax", "en", ["kb:ask_tax.property"]),
    ("bayar pajak motor bisa online?", "ask_tax", "id", ["kb:ask_tax.vehicle"]),
    ("perpanjang STNK tahunan di samsat", "ask_tax", "id", ["kb:ask_tax.vehicle"]),
    ("how do I pay my car tax", "ask_tax", "en", ["kb:ask_tax.vehicle"]),
    ("vehicle tax payment", "ask_tax", "en", ["kb:ask_tax.vehicle"]),
    # "bansos kapan cair" only said who qualifies: when it is paid.
    ("bansos kapan cair", "ask_social_aid", "id", ["kb:ask_social_aid.disbursement"]),
    ("kapan pencairan PKH tahap berikutnya?", "ask_social_aid", "id", ["kb:ask_social_aid.disbursement"]),
    ("bantuan sembako sudah cair belum ya", "ask_social_aid", "id", ["kb:ask_social_aid.disbursement"]),
    ("when will the social aid be paid out?", "ask_social_aid", "en", ["kb:ask_social_aid.disbursement"]),
    ("when is bansos disbursed", "ask_social_aid", "en", ["kb:ask_social_aid.disbursement"]),
    # A general question still gets the general answer.
    ("siapa yang berhak dapat bansos?", "ask_social_aid", "id", ["kb:ask_social_aid"]),
    ("who can get social aid?", "ask_social_aid", "en", ["kb:ask_social_aid"]),
    ("info pajak PBB dan pajak kendaraan", "ask_tax", "id", ["kb:ask_tax"]),
]

NOT_COVERED = [
    # "syarat bikin SIM" got the business-permit answer: the office that issues it instead.
    ("syarat bikin SIM", "ask_business_permit", "id", "Satpas"),
    ("cara perpanjang sim A gimana", "ask_id_card", "id", "Satpas"),
    ("bikin SIM C dimana ya?", "ask_office_hours", "id", "Satpas"),
    ("what do I need for a driving licence?", "ask_business_permit", "en", "Satpas"),
    ("how do I renew my driver's license", "ask_id_card", "en", "Satpas"),
    ("syarat bikin paspor?", "ask_id_card", "id", "Imigrasi"),
    ("urus paspor baru gimana", "ask_passport", "id", "Imigrasi"),
    ("how do I get a passport?", "ask_id_card", "en", "Imigrasi"),
    ("cara bikin sertifikat tanah", "ask_tax", "id", "BPN"),
    ("how do I get a land certificate?", "ask_business_permit", "en", "BPN"),
]

UNKNOWN = [
    ("berapa harga tiket kereta ke bandung?", "ask_tax", "id"),
    ("jadwal imunisasi anak kapan", "ask_civil_certificate", "id"),
    ("what time does the zoo open?", "ask_office_hours", "en"),
]


def _summaries() -> set[str]:
    out = set()
    for lang in ("id", "en"):
        for key in KB.all_keys(lang):
            article = KB.article(key, lang)
            assert article is not None
            out.add(article.summary)
    return out


@pytest.mark.parametrize("text,intent,lang,expected", TOPICS)
def test_the_words_of_the_question_choose_the_answer(text, intent, lang, expected):
    chat = Chat(lang=lang)
    assert chat.say(text, intent, lang=lang) == expected


def test_property_tax_does_not_mix_in_vehicle_tax():
    for lang in ("id", "en"):
        chat = Chat(lang=lang)
        chat.say("cara bayar pbb", "ask_tax", lang=lang)
        assert "Samsat" not in chat.text and "SIGNAL" not in chat.text


@pytest.mark.parametrize("text,intent,lang,office", NOT_COVERED)
def test_a_subject_outside_the_knowledge_base_names_the_office(text, intent, lang, office):
    chat = Chat(lang=lang)
    assert chat.say(text, intent, lang=lang) == ["kb_not_covered"]
    assert office in chat.text
    assert chat.text not in _summaries()
    # Nothing to continue: "more" is not about another article.
    assert chat.say("lagi" if lang == "id" else "more", lang=lang) == ["not_understood", "menu"]


@pytest.mark.parametrize("text,intent,lang", UNKNOWN)
def test_a_question_no_article_matches_is_not_answered_with_another(text, intent, lang):
    chat = Chat(lang=lang)
    assert chat.say(text, intent, lang=lang) == ["kb_not_known"]
    assert "kelurahan" in chat.text.lower()


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_sub_answer_has_its_own_more_parts(lang):
    chat = Chat(lang=lang)
    chat.say("bansos kapan cair", "ask_social_aid", lang=lang)
    topic = KB.article("ask_social_aid.disbursement", lang)
    assert topic is not None and topic.more
    for n in range(len(topic.more)):
        got = chat.say("lagi" if lang == "id" else "more", lang=lang)
        assert got[0] == f"kb:ask_social_aid.disbursement:more:{n}"
    assert got[-1] == "kb_links"


def test_a_pressed_choice_is_answered_whatever_the_words():
    chat = Chat()
    chat.say("hmm soal itu", None, ranking=(("ask_tax", 0.4), ("report_road", 0.3)))
    assert chat.say(button="intent:ask_tax") == ["kb:ask_tax"]


def test_a_question_while_filing_outside_the_knowledge_base_says_so():
    chat = Chat()
    chat.say("pohon tumbang di depan rumah", "report_tree")
    got = chat.say("oh iya, syarat bikin SIM apa ya?", "ask_business_permit")
    assert got[0] == "kb_not_covered"


def test_out_of_scope_about_a_known_office_points_to_it():
    chat = Chat()
    assert chat.say("syarat bikin SIM", "out_of_scope") == ["kb_not_covered"]
    assert "Satpas" in chat.text


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_article_answers_a_question_naming_it(lang):
    for key in KB.keys(lang):
        if key == "ask_emergency":
            continue
        article = KB.article(key, lang)
        assert article is not None
        chat = Chat(lang=lang)
        assert chat.say(f"info {article.title}", key, lang=lang) == [f"kb:{key}"], key


def test_both_files_have_the_same_topics_and_offices_within_sms_limits():
    assert KB.all_keys("id") == KB.all_keys("en")
    assert KB.office_keys("id") == KB.office_keys("en")
    for lang in ("id", "en"):
        for key in KB.all_keys(lang):
            article = KB.article(key, lang)
            assert article is not None and 0 < len(article.summary) <= 300, key
            assert all(0 < len(part) <= 450 for part in article.more), key
            assert len(article.links) <= 2
            if key != "ask_emergency":
                assert article.keywords, key
        for office in KB.offices(lang):
            assert office.office and len(office.office) <= 200


@pytest.mark.parametrize("yaml_text,problem", [
    ("ask_tax:\n  summary: Pajak.\n  topics:\n    pbb:\n      summary: PBB.\n", "needs keywords"),
    ("ask_tax:\n  summary: Pajak.\n  topics: [pbb]\n", "expected a mapping of topics"),
    ("offices:\n  sim:\n    keywords: [sim]\n", "needs an office"),
    ("offices:\n  sim:\n    office: Satpas\n", "needs keywords"),
])
def test_a_malformed_topic_or_office_is_refused_with_its_key(tmp_path, yaml_text, problem):
    from bot.dialogue.knowledge import KnowledgeBase, KnowledgeError

    (tmp_path / "id.yml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=problem):
        KnowledgeBase(tmp_path).keys("id")


def test_a_question_while_waiting_for_a_person_gets_the_sub_answer():
    chat = Chat()
    chat.say("tolong sambungkan ke petugas", "request_human")
    assert chat.say("bansos kapan cair?", "ask_social_aid") == ["kb:ask_social_aid.disbursement"]
