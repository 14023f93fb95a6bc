"""Response headers that make the browser enforce what the app promises: no inline or foreign scripts,
no framing, no MIME sniffing, no referrer leaks to other sites."""

from __future__ import annotations

from flask import request

# Scripts only from this origin (no inline scripts anywhere); every asset is served locally.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


# Static assets, the API's documentation assets and plotly.js may be cached; nothing else.
_CACHEABLE = frozenset({"static", "api_docs.swagger_asset", "office.plotly_js", None})


def init_app(app) -> None:
    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.endpoint not in _CACHEABLE and "Cache-Control" not in headers:
            # Pages (one-time passwords among them) and downloads are personal: never kept by a browser or proxy.
            headers["Cache-Control"] = "no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
