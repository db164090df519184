"""Property staff in the mini-program: binding a WeChat account to a console account with a one-time code."""
