"""The organisation: towns, their enforcement squads, estates and property companies."""
