"""Rate limits on single views (the console's login, the mini-program's binding codes): Flask-Limiter's limiter,
checked only where a limit is set."""

from __future__ import annotations

from flask_limiter import Limiter


class ViewLimiter(Limiter):
    """A Flask-Limiter whose limits are all decorated on views (no default, application or blueprint limits).

    Flask-Limiter also checks every request of the app before its view, to find default and blueprint limits;
    with none set, that check finds nothing, at a tenth of a cheap request's time. It is skipped here: a
    decorated view checks its own limits as it is called, as Flask-Limiter does for every decorated view."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware:
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)
