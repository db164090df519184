"""A resident's choices in the mini-program: the estates they live in or follow, the topics pushed, pushes off."""
