"""The campaign's case categories: groups, codes, legal basis and time limits."""
