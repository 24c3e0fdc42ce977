"""The coaching curriculum: steps, objection answers, the content map and the menu, as data and
plain functions (no Rasa). bot/actions/coaching.py, objections.py and questions.py are its Rasa side."""
