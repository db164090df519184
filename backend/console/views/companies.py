"""The bureau's pages about property companies: the companies, their contact and the estates they manage."""
