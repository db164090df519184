"""Renovation registrations in the mini-program: property staff file and follow them; residents ask whether a
flat has one."""
