"""The Gutenberg play splits: whole plays per split, never overlapping, deterministic."""

import pytest

from suite.data import text
from suite.data.tiny import write_tiny_plays
from suite.errors import UserError


@pytest.fixture
def plays_dir(tmp_path, monkeypatch):
    folder = write_tiny_plays(tmp_path / "plays")
    monkeypatch.setattr(text, "plays_folder", lambda: folder)
    return folder


def test_the_splits_are_disjoint_whole_plays_without_folio_copies_or_poems():
    every = [p for split in text.SPLITS.values() for p in split]
    assert len(every) == len(set(every)) == 37
    assert set(text.EVALUATION) == {"hamlet", "macbeth"}
    assert not any(p.endswith("_f") or p in ("sonnets", "rape_of_lucrece") for p in every)


def test_split_text_joins_its_plays_in_order(plays_dir):
    joined = text.split_text("evaluation")
    assert joined.startswith("HAMLET") and "\n\n\nMACBETH" in joined
    assert text.split_text("evaluation") == joined  # deterministic


def test_passages_hold_whole_speeches_of_the_passage_plays_only(plays_dir):
    items = text.passages(min_words=25)
    assert {p.play for p in items} == set(text.PASSAGE_PLAYS)
    assert all(len(p.text.split()) >= 25 for p in items)
    assert [p.passage_id for p in items[:2]] == ["alls_well_that_ends_well:0",
                                                  "alls_well_that_ends_well:1"]
    assert items == text.passages(min_words=25)
    held_out = text.split_text("evaluation") + text.split_text("calibration")
    assert not any(p.text.startswith(("HAMLET", "MACBETH", "TEMPEST")) for p in items)
    assert "HAMLET" in held_out


def test_known_item_queries_are_spans_of_their_passage(plays_dir):
    items = text.passages(min_words=25)[:30]
    queries = text.known_item_queries(items, min_words=4)
    assert len(queries) >= 25
    for query, index in queries:
        assert query in items[index].text and len(query.split()) >= 4


def test_a_missing_play_or_split_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "plays_folder", lambda: tmp_path)
    with pytest.raises(UserError, match=r"hamlet_gut.txt: missing .*run-suite fetch plays"):
        text.split_text("evaluation")
    with pytest.raises(UserError, match="text split 'test'; allowed: evaluation, calibration"):
        text.plays("test")
