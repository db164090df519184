"""Residents' photo uploads: checking and cleaning images, and storing them by content."""
