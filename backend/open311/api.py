"""The GeoReport v2 (Open311) endpoints, JSON and XML, at /open311/v2/."""
