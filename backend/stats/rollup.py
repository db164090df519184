"""The summary tables kept up to date: each case reduced to its sums, the days it touched summed again, the
months summed from their days. Run by `flask stats refresh` (cron) and after the sweep."""
