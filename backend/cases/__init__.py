"""Cases: a reported suspected violation, its routing, its life and its timeline."""
