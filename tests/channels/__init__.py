"""Offline tests of the Telegram and Slack channels and of the credentials generator."""
