"""The one version check for every change to Rasa's internals in this package.

Each change was written against Rasa 3.6 and is tested against Rasa's own behaviour
(tests/test_rasa_ext.py); on another version the process refuses to start rather than guess.
"""

from __future__ import annotations

SUPPORTED_RASA = ("3.6.",)


def check_rasa_version(version: str = "") -> None:
    """Refuse to start on a Rasa these changes were not written for."""
    if not version:
        import rasa

        version = rasa.__version__
    if not version.startswith(SUPPORTED_RASA):
        raise SystemExit(
            f"bot/rasa_ext changes Rasa internals written for Rasa {', '.join(v + 'x' for v in SUPPORTED_RASA)}; "
            f"this is Rasa {version}. Check each change against the new version (tests/test_rasa_ext.py) first."
        )
