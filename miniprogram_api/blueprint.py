"""The one blueprint of the mini-program API."""

from flask_openapi3 import APIBlueprint

from backend.errors import ErrorBody

mp_api = APIBlueprint(
    "mp",
    __name__,
    url_prefix="/api/mp/v1",
    abp_responses={400: ErrorBody, 404: ErrorBody, 413: ErrorBody, 500: ErrorBody, 503: ErrorBody},
)
