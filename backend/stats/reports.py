"""The monthly report per town and for the district, and the summary at the end of each campaign phase."""
