"""Residents' accounts and the bearer tokens the mini-program uses."""
