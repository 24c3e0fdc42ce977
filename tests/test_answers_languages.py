"""Short yes/no answers in the languages the bot notes (bot/safety/language.py) read as yes or no."""

from __future__ import annotations

import pytest

from bot.safety import answers


@pytest.mark.parametrize("text", ["sí", "Si", "oui", "ja", "sim", "tak", "evet", "sí, claro", "oui, merci"])
def test_yes_in_other_languages(text):
    assert answers.read(None, text) == answers.YES


@pytest.mark.parametrize("text", ["nein", "non", "não", "nie", "nej", "nee", "hayır", "no, gracias"])
def test_no_in_other_languages(text):
    assert answers.read(None, text) == answers.NO
