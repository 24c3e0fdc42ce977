"""`python -m bot.rasa_ext <arguments>`: `rasa <arguments>` with the project's changes to Rasa's
internals installed first (bot/rasa_ext/__init__.py lists them)."""

from __future__ import annotations

import sys

from bot.rasa_ext import install


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
