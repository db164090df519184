"""Legal-education articles in the mini-program: by category and tag, search, detail, related articles."""
