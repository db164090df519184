"""The bureau's and squad leaders' statistics: the dashboard, the monthly report and the phase summary."""
