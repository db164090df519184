"""Campaign events in the console: a studio announces them, sees who signed up and marks who came."""
