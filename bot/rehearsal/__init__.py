"""The practice run ("rehearsal", so it is never confused with the clinic, bot/content/practice.py):
the analyzer of a line (analyzer.py, its patterns patterns.yml, its model model.py trained on
corpus/), the simulated partner and the feedback (partner.py, texts in practice_run.yml).

May import: bot.content.texts, bot.safety.detector (the pattern language), bot.nlu (the spaCy
pipeline and the sentence encoder). Never bot.actions or Rasa.
"""
