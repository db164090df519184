"""Renovation registrations (装修申报登记) in the console: a company files, checks and follows its own; the
printable renovation notice (装修告知书)."""
