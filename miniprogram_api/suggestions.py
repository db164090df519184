"""Residents' suggestions (人民建议征集) in the mini-program: send one, follow its replies."""
