"""Loading and validating Rasa YAML training data."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.intents import ENTITIES, INTENTS
from nlu.training_checks import validate
from nlu.training_data import ERROR, WARNING, TrainingData, TrainingDataError, load_and_validate
from nlu.training_reader import load_training_data, parse_training_yaml

GOOD = """\
version: "3.1"
nlu:
- intent: check_status
  examples: |
    - cek status [WRG-2026-000123](ticket_id)
    - laporan saya di [Jl. Melati]{"entity": "location", "value": "Jalan Melati"} gimana
    - gimana laporan saya
- intent: greet
  examples: |
    - halo
    - selamat pagi
- synonym: jalan
  examples: |
    - jl
    - jln
- regex: ticket_id
  examples: |
    - WRG-\\d{4}-\\d{6}
- lookup: kecamatan
  examples: |
    - Tebet
    - Menteng
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_examples_entities_synonyms_regexes_lookups(tmp_path: Path) -> None:
    data = load_training_data(write(tmp_path, "nlu.yml", GOOD))
    assert data.intents == ("check_status", "greet")
    first, second = data.examples[0], data.examples[1]
    assert first.text == "cek status WRG-2026-000123"
    (ticket,) = first.entities
    assert (ticket.entity, ticket.start, ticket.end, ticket.value) == ("ticket_id", 11, 26, "WRG-2026-000123")
    assert first.text[ticket.start : ticket.end] == "WRG-2026-000123"
    (loc,) = second.entities
    assert second.text == "laporan saya di Jl. Melati gimana"
    assert (loc.text, loc.value) == ("Jl. Melati", "Jalan Melati")
    assert data.synonyms[0].value == "jalan" and data.synonyms[0].examples == ("jl", "jln")
    assert data.regexes[0].patterns == ("WRG-\\d{4}-\\d{6}",)
    assert data.lookups[0].elements == ("Tebet", "Menteng")


def test_example_lines_carry_their_file_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nlu.yml", GOOD)
    data = load_training_data(path)
    lines = path.read_text().splitlines()
    for ex in data.examples:
        assert ex.source.file == str(path)
        assert ex.text.split()[0] in lines[ex.source.line - 1]


def test_directory_reads_top_level_yml_only(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", GOOD)
    (tmp_path / "test").mkdir()
    write(tmp_path / "test", "heldout.yml", GOOD.replace("halo", "hai"))
    data = load_training_data(tmp_path)
    assert len(data.files) == 1
    assert "hai" not in data.texts()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yml", 'nlu:\n- intent: greet\n  examples: |\n    - halo\n- intent: [unclosed\n')
    with pytest.raises(TrainingDataError) as info:
        load_training_data(path)
    (problem,) = info.value.problems
    assert problem.kind == "yaml" and problem.severity == ERROR
    assert problem.source.file == str(path) and problem.source.line >= 5
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("- just a list\n", "schema"),
        ("nlu:\n  intent: greet\n", "schema"),
        ("nlu:\n- intent: greet\n", "schema"),  # no examples
        ("nlu:\n- intent: greet\n  examples: |\n    halo tanpa strip\n", "schema"),
        ('nlu:\n- intent: greet\n  examples: |\n    - [halo]{"entity": nope}\n', "bad_annotation"),
        ("nlu:\n- regex: ticket_id\n  examples: |\n    - WRG(\n", "bad_regex"),
    ],
)
def test_malformed_files_are_clear_errors(tmp_path: Path, text: str, kind: str) -> None:
    with pytest.raises(TrainingDataError) as info:
        load_training_data(write(tmp_path, "bad.yml", text))
    assert info.value.problems[0].kind == kind
    assert info.value.retryable is False


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="no such file"):
        load_training_data(tmp_path / "nope.yml")
    with pytest.raises(TrainingDataError, match="no \\*.yml"):
        load_training_data(tmp_path)


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.yml"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\x80")
    with pytest.raises(TrainingDataError):
        load_training_data(path)


def test_validate_reports_unknown_intent_and_entity_duplicates_and_conflicts(tmp_path: Path) -> None:
    text = """\
nlu:
- intent: greet
  examples: |
    - halo
    - Halo
    - sampai jumpa
    - halo di [Pasar Minggu](place)
- intent: goodbye
  examples: |
    - sampai  jumpa
- intent: order_pizza
  examples: |
    - pesan pizza
"""
    data = load_training_data(write(tmp_path, "nlu.yml", text))
    problems = validate(data)
    kinds = {(p.kind, p.severity) for p in problems}
    assert ("unknown_intent", ERROR) in kinds
    assert ("unknown_entity", ERROR) in kinds
    assert ("conflict", ERROR) in kinds
    assert ("duplicate", WARNING) in kinds
    assert ("missing_intent", WARNING) in kinds
    conflict = next(p for p in problems if p.kind == "conflict")
    assert "greet" in conflict.message and "goodbye" in conflict.message
    assert conflict.source.line == 10
    assert problems[0].severity == ERROR  # errors first
    with pytest.raises(TrainingDataError):
        load_and_validate(tmp_path / "nlu.yml")


def test_to_yaml_round_trips(tmp_path: Path) -> None:
    data = load_training_data(write(tmp_path, "nlu.yml", GOOD))
    again, problems = parse_training_yaml(data.to_yaml(), "again.yml")
    assert not [p for p in problems if p.severity == ERROR]
    assert again.fingerprint() == data.fingerprint()
    assert [e.entities for e in again.examples] == [e.entities for e in data.examples]


def test_fingerprint_ignores_file_layout_but_not_content(tmp_path: Path) -> None:
    data = load_training_data(write(tmp_path, "nlu.yml", GOOD))
    assert data.subset(range(len(data.examples))).fingerprint() == data.fingerprint()
    assert data.subset([0]).fingerprint() != data.fingerprint()


def test_project_data_is_valid_and_covers_every_intent(project_data: TrainingData) -> None:
    problems = validate(project_data)
    errors = [str(p) for p in problems if p.severity == ERROR]
    assert errors == []
    assert set(project_data.intents) == set(INTENTS)
    assert set(project_data.entity_names) <= set(ENTITIES)


def test_heldout_data_is_valid_and_disjoint_from_training(project_data: TrainingData) -> None:
    heldout = load_training_data(Path(__file__).resolve().parents[2] / "nlu" / "data" / "test" / "heldout.yml")
    assert not [p for p in validate(heldout, min_examples=1) if p.severity == ERROR]
    train = {" ".join(t.casefold().split()) for t in project_data.texts()}
    overlap = [t for t in heldout.texts() if " ".join(t.casefold().split()) in train]
    assert overlap == []
