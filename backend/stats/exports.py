"""Exports of cases with the filters applied, as CSV or Excel, streamed row by row."""
