"""Work orders from the 12345 citizen hotline: an authenticated endpoint per client and a file import."""
