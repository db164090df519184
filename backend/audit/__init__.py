"""The audit trail: every state change and every reveal of personal data, for the bureau to read."""
