"""Pushing a published article to residents from the console, and what became of each delivery."""
