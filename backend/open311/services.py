"""GeoReport v2 read side: our categories as services, our cases as requests, with no personal data."""
