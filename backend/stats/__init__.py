"""Statistics for the bureau and the squads: summary tables, figures, exports and reports."""
