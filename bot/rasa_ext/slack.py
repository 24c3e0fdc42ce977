"""Two private methods of Rasa 3.6's Slack connector, overridden (fix and product choice).

- `PostWithoutAsUser._post_message`: Rasa posts with `as_user=True`, a flag Slack documents as
  legacy (classic apps only); a current Slack app is refused or ignored with it. It is dropped.
- `DirectMessagesOnly._is_supported_channel`: Rasa also answers app mentions and the configured
  channel, where other members would read a disclosure and the reply; here only direct messages
  are answered.

bot/channels/slack.py mixes them into its messenger and channel classes.
"""

from __future__ import annotations

from typing import Any, Dict, Text

from bot.rasa_ext.version import check_rasa_version

check_rasa_version()


class PostWithoutAsUser:
    """Mixed in before rasa.core.channels.slack.SlackBot."""

    async def _post_message(self, channel: Text, **kwargs: Any) -> None:
        kwargs.pop("as_user", None)
        await super()._post_message(channel, **kwargs)  # type: ignore[misc]


class DirectMessagesOnly:
    """Mixed in before rasa.core.channels.slack.SlackInput."""

    def _is_supported_channel(self, slack_event: Dict, metadata: Dict) -> bool:
        return self._is_direct_message(slack_event)  # type: ignore[attr-defined]
