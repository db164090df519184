"""The duty cross-check in the console: the cases a company's findings became, its compliance record, the
bureau's ranking of companies, and a squad opening a negligence case from a verified case."""
