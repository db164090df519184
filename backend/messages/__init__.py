"""Telling residents what happened: in-app messages and WeChat subscribe messages."""
