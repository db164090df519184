"""A property company's own accounts: its manager creates and disables its staff; each staff member gets a
one-time code to bind their WeChat account."""
