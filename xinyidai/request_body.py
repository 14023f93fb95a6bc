"""Read the rest of a request body the app did not read, before the response goes out.

gunicorn closes each connection from nginx after one response (nginx speaks HTTP/1.0 with `Connection:
close` upstream). When a view answers without reading the body — a redirect to the login page for an
upload whose session expired, a 401 for a wrong API token, a 404 — the unread bytes still wait in the
socket, and closing a socket with unread data sends a TCP reset, which can reach nginx before it has read
the response: the user then gets 502 Bad Gateway instead of the app's answer (the nginx-proxy drill saw it
for about one POST in four of 1 MiB or more). Draining the body first makes every answer arrive.
Bodies larger than MAX_CONTENT_LENGTH are left alone: nginx refuses those itself, and reading them would
only let a client keep a worker busy.
"""

from __future__ import annotations

CHUNK = 64 * 1024


class DrainRequestBody:
    def __init__(self, wsgi_app, limit: int | None):
        self.wsgi_app = wsgi_app
        self.limit = limit

    def __call__(self, environ, start_response):
        result = self.wsgi_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length and (self.limit is None or length <= self.limit):
            stream = environ.get("wsgi.input")
            try:
                while stream is not None and stream.read(CHUNK):
                    pass
            except (OSError, ValueError):  # the client went away, or the server closed the stream
                pass
        return result
