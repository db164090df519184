"""The figures the bureau reads: counts by every key, handling times and rates, satisfaction, repeats, the
key-estate watch list, hot spots and rankings, from the summary tables (or straight from the cases)."""
