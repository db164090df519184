"""Campaign events in the mini-program: upcoming ones near the resident, signing up and cancelling."""
