"""The chat channels: the backend side of the bot (state, actions on cases, WeChat message push)."""
