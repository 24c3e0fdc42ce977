"""Write the Rasa credentials file: the base file plus Telegram and Slack when they are configured.

    python -m bot.channels.credentials --base credentials.yml --out var/credentials.yml

A channel is added only when its environment variables are set, so the bot runs without them:

- Telegram: TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_URL and TELEGRAM_SECRET_TOKEN (TELEGRAM_BOT_NAME
  optional);
- Slack: SLACK_TOKEN and SLACK_SIGNING_SECRET.

A half-configured channel stops here (exit code 1) with the missing variable named, rather than
starting a bot that silently ignores the channel. The base file is copied unchanged (comments
included); the added sections hold `${VAR}` references, which `rasa run` fills in from its
environment, so no secret is written to disk at all. The file is still created with mode 0600.
See docs/channels.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlparse

import yaml

MIN_SECRET_TOKEN = 16


class ConfigError(Exception):
    """A configuration the bot must not start with; the message says what to fix."""


def _telegram_token(value: str) -> Optional[str]:
    if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value):
        return "must look like 123456789:AAE... (the token @BotFather gave you)"
    return None


def _https_url(value: str) -> Optional[str]:
    url = urlparse(value)
    if url.scheme != "https" or not url.netloc:
        return "must be an https:// URL (Telegram sends webhooks over HTTPS only)"
    return None


def _secret_token(value: str) -> Optional[str]:
    if not re.fullmatch(r"[A-Za-z0-9_-]{%d,256}" % MIN_SECRET_TOKEN, value):
        return (
            f"must be {MIN_SECRET_TOKEN} to 256 characters of A-Z, a-z, 0-9, _ and - "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return None


def _bot_name(value: str) -> Optional[str]:
    if not re.fullmatch(r"@?[A-Za-z0-9_]{1,64}", value):
        return "must be the bot's Telegram username, such as CoachBot"
    return None


def _no_spaces(value: str) -> Optional[str]:
    return "must not contain spaces" if any(c.isspace() for c in value) else None


@dataclass(frozen=True)
class Channel:
    title: str
    key: str  # the section name: the channel's class path
    builtin: str  # Rasa's own connector, which the base file must not configure as well
    required: Mapping[str, Tuple[str, Callable[[str], Optional[str]]]]  # credential -> (variable, check)
    optional: Mapping[str, Tuple[str, Callable[[str], Optional[str]]]]

    def variables(self) -> List[str]:
        return [var for var, _ in list(self.required.values()) + list(self.optional.values())]


CHANNELS = (
    Channel(
        "Telegram",
        "bot.channels.telegram.TelegramChannel",
        "telegram",
        required={
            "access_token": ("TELEGRAM_TOKEN", _telegram_token),
            "webhook_url": ("TELEGRAM_WEBHOOK_URL", _https_url),
            "secret_token": ("TELEGRAM_SECRET_TOKEN", _secret_token),
        },
        optional={"bot_name": ("TELEGRAM_BOT_NAME", _bot_name)},
    ),
    Channel(
        "Slack",
        "bot.channels.slack.SlackChannel",
        "slack",
        required={
            "slack_token": ("SLACK_TOKEN", _no_spaces),
            "slack_signing_secret": ("SLACK_SIGNING_SECRET", _no_spaces),
        },
        optional={},
    ),
)


def channel_section(channel: Channel, env: Mapping[str, str]) -> Optional[str]:
    """The channel's YAML section, None when none of its variables is set; ConfigError when only
    some are, or a value is unusable (the value itself is never printed)."""
    if not any(env.get(var) for var in channel.variables()):
        return None
    missing = [var for var, _ in channel.required.values() if not env.get(var)]
    if missing:
        raise ConfigError(
            f"{channel.title} is half-configured: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set. Set all of "
            f"{', '.join(var for var, _ in channel.required.values())} to turn {channel.title} on, "
            "or none of them to leave it off."
        )
    lines = [f"{channel.key}:"]
    for credential, (var, check) in list(channel.required.items()) + list(channel.optional.items()):
        if not env.get(var):
            continue
        problem = check(env[var])
        if problem:
            raise ConfigError(f"{var} {problem}.")
        lines.append(f"  {credential}: ${{{var}}}")
    return "\n".join(lines) + "\n"


def build(base_text: str, env: Mapping[str, str], base_name: str) -> Tuple[str, List[str]]:
    """The credentials file's text and the names of its channels."""
    try:
        base = yaml.safe_load(base_text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{base_name} is not valid YAML: {error}") from error
    if not isinstance(base, dict):
        raise ConfigError(f"{base_name} must be a mapping of channel names to their settings")
    sections = []
    names = [str(name) for name in base]
    for channel in CHANNELS:
        section = channel_section(channel, env)
        if section is None:
            continue
        for clash in (channel.key, channel.builtin):
            if clash in base:
                raise ConfigError(
                    f"{base_name} already configures '{clash}': remove it, {channel.title} is "
                    "added from the environment (Rasa's own connector lacks the project's checks)"
                )
        sections.append(section)
        names.append(channel.title.lower())
    header = (
        f"# Generated by `python -m bot.channels.credentials` from {base_name}: do not edit, change the\n"
        "# base file or the environment instead. ${...} values are read from the environment by `rasa run`.\n"
    )
    text = header + base_text.rstrip("\n") + "\n" + "".join("\n" + s for s in sections)
    yaml.safe_load(text)  # the result must parse (a clash would have been caught above)
    return text, names


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv: Optional[Sequence[str]] = None, env: Optional[Mapping[str, str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="credentials.yml", help="the channels that are always on")
    parser.add_argument("--out", default="var/credentials.yml", help="where to write (keep it under var/)")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    base, out = Path(args.base), Path(args.out)
    try:
        if not base.is_file():
            raise ConfigError(f"base credentials file {base} not found")
        if out.exists() and out.resolve() == base.resolve():
            raise ConfigError("--out must not be the base file")
        text, names = build(base.read_text(encoding="utf-8"), env, str(base))
    except ConfigError as error:
        print(f"credentials: {error}", file=sys.stderr)
        return 1
    write_private(out, text)
    off = [c.title for c in CHANNELS if c.title.lower() not in names]
    print(f"credentials: wrote {out} (channels: {', '.join(names)}" + (f"; off: {', '.join(off)}" if off else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
