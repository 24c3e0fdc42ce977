"""Reading a short message clause by clause (bot/nlu/objection_clauses.py)."""

from __future__ import annotations

from bot.nlu.objection_clauses import clauses


def test_clauses_split_at_commas_and_joining_words():
    assert clauses("counseling is for sissies, and a waste of money") == [
        "counseling is for sissies",
        "a waste of money",
    ]
    assert clauses("he says we're fine and he doesn't have time") == ["he says we're fine", "he doesn't have time"]
    assert clauses("she thinks therapists are quacks; plus we can't afford it") == [
        "she thinks therapists are quacks",
        "we can't afford it",
    ]


def test_one_word_pieces_are_not_clauses():
    assert clauses("no, and no") == []
    assert clauses("he says it's pointless") == ["he says it's pointless"]
