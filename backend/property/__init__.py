"""Property companies: the estates they manage, their staff, renovation registrations, patrols and their
findings, and the duty cross-check of the cases that prove true."""
