"""Open data: the GeoReport v2 (Open311) read endpoints, with no personal data."""
