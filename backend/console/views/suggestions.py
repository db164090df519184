"""Residents' suggestions in the console: studio editors reply, tag, forward and close them."""
