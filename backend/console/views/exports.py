"""Exports of cases as CSV or Excel with the dashboard's filters."""
