"""Rasa input channels of the project: the web widget's socket.io channel, Telegram and Slack."""
