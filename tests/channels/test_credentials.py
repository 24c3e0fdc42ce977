"""`python -m bot.channels.credentials`: channels only when fully configured, no secrets on disk."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
import yaml

from bot.channels.credentials import main
from tests.channels.conftest import REPO_ROOT

BASE = "# always on\nrest:\n\nbot.channels.socketio.SocketIOChannel:\n  session_persistence: true\n"
TELEGRAM = {
    "TELEGRAM_TOKEN": "123456789:AAEsecretTokenValue_x",
    "TELEGRAM_WEBHOOK_URL": "https://coach.example.org/webhooks/telegram/webhook",
    "TELEGRAM_SECRET_TOKEN": "s3cret-Token_value-0123456789",
}
SLACK = {"SLACK_TOKEN": "xoxb-1-secret-slack-token", "SLACK_SIGNING_SECRET": "abcdef0123456789secret"}


@pytest.fixture
def paths(tmp_path):
    base = tmp_path / "credentials.yml"
    base.write_text(BASE, encoding="utf-8")
    return base, tmp_path / "var" / "credentials.yml"


def run(paths, env):
    base, out = paths
    return main(["--base", str(base), "--out", str(out)], env=env)


def test_without_variables_the_output_is_the_base_file(paths, capsys):
    assert run(paths, {}) == 0
    text = paths[1].read_text(encoding="utf-8")
    assert text.endswith(BASE)
    assert yaml.safe_load(text) == yaml.safe_load(BASE)
    assert oct(paths[1].stat().st_mode & 0o777) == "0o600"
    assert "off: Telegram, Slack" in capsys.readouterr().out


def test_both_channels_reference_the_environment_and_rasa_reads_the_values(paths, monkeypatch):
    env = dict(TELEGRAM, TELEGRAM_BOT_NAME="CoachBot", **SLACK)
    assert run(paths, env) == 0
    text = paths[1].read_text(encoding="utf-8")
    for value in env.values():
        assert value not in text  # no secret on disk
    assert oct(paths[1].stat().st_mode & 0o777) == "0o600"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import rasa.shared.utils.io

    loaded = rasa.shared.utils.io.read_config_file(paths[1])
    assert loaded["bot.channels.telegram.TelegramChannel"] == {
        "access_token": TELEGRAM["TELEGRAM_TOKEN"],
        "webhook_url": TELEGRAM["TELEGRAM_WEBHOOK_URL"],
        "secret_token": TELEGRAM["TELEGRAM_SECRET_TOKEN"],
        "bot_name": "CoachBot",
    }
    assert loaded["bot.channels.slack.SlackChannel"] == {
        "slack_token": SLACK["SLACK_TOKEN"],
        "slack_signing_secret": SLACK["SLACK_SIGNING_SECRET"],
    }
    assert "rest" in loaded and "bot.channels.socketio.SocketIOChannel" in loaded


def test_one_channel_alone(paths):
    assert run(paths, dict(SLACK)) == 0
    loaded = yaml.safe_load(paths[1].read_text(encoding="utf-8"))
    assert "bot.channels.slack.SlackChannel" in loaded
    assert "bot.channels.telegram.TelegramChannel" not in loaded


@pytest.mark.parametrize(
    "env, missing",
    [
        ({k: v for k, v in TELEGRAM.items() if k != "TELEGRAM_SECRET_TOKEN"}, ["TELEGRAM_SECRET_TOKEN"]),
        ({"TELEGRAM_TOKEN": TELEGRAM["TELEGRAM_TOKEN"]}, ["TELEGRAM_WEBHOOK_URL", "TELEGRAM_SECRET_TOKEN"]),
        ({"TELEGRAM_BOT_NAME": "CoachBot"}, ["TELEGRAM_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_SECRET_TOKEN"]),
        ({"SLACK_TOKEN": SLACK["SLACK_TOKEN"]}, ["SLACK_SIGNING_SECRET"]),
        (dict(TELEGRAM, SLACK_SIGNING_SECRET="abc"), ["SLACK_TOKEN"]),
    ],
)
def test_a_half_configured_channel_stops_with_the_missing_variable_named(paths, capsys, env, missing):
    assert run(paths, env) == 1
    error = capsys.readouterr().err
    assert "half-configured" in error
    for name in missing:
        assert name in error
    for value in env.values():
        assert value not in error
    assert not paths[1].exists()


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("TELEGRAM_WEBHOOK_URL", "http://coach.example.org/webhooks/telegram/webhook", "https://"),
        ("TELEGRAM_SECRET_TOKEN", "short", "16 to 256"),
        ("TELEGRAM_SECRET_TOKEN", "has spaces in it but is long enough", "16 to 256"),
        ("TELEGRAM_TOKEN", "not-a-token", "@BotFather"),
    ],
)
def test_unusable_values_are_refused_without_echoing_them(paths, capsys, name, value, words):
    assert run(paths, dict(TELEGRAM, **{name: value})) == 1
    error = capsys.readouterr().err
    assert name in error and words in error and value not in error


def test_the_base_must_not_configure_rasas_own_connector_too(paths, capsys):
    paths[0].write_text(BASE + "telegram:\n  access_token: x\n", encoding="utf-8")
    assert run(paths, dict(TELEGRAM)) == 1
    assert "already configures 'telegram'" in capsys.readouterr().err


def test_the_base_file_is_never_the_output(paths):
    assert main(["--base", str(paths[0]), "--out", str(paths[0])], env={}) == 1
    assert paths[0].read_text(encoding="utf-8") == BASE


def test_the_projects_base_file_as_a_module_with_exit_codes(tmp_path):
    """The command scripts/run.sh runs, on the real credentials.yml (read, never changed)."""
    base = REPO_ROOT / "credentials.yml"
    before = hashlib.sha256(base.read_bytes()).hexdigest()
    out = tmp_path / "var" / "credentials.yml"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    command = [sys.executable, "-m", "bot.channels.credentials", "--base", str(base), "--out", str(out)]

    done = subprocess.run(command, cwd=REPO_ROOT, env=dict(clean, **TELEGRAM, **SLACK), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert set(yaml.safe_load(base.read_text(encoding="utf-8"))) < set(loaded)
    assert {"bot.channels.telegram.TelegramChannel", "bot.channels.slack.SlackChannel"} < set(loaded)

    half = {k: v for k, v in TELEGRAM.items() if k != "TELEGRAM_WEBHOOK_URL"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=dict(clean, **half), capture_output=True, text=True)
    assert done.returncode == 1 and "TELEGRAM_WEBHOOK_URL" in done.stderr
    assert hashlib.sha256(base.read_bytes()).hexdigest() == before
