"""Reporting up to the city node of the national financing-credit platform (上海市级节点 → 全国融资信用服务平台).

- ``schemas/``   the outbound contract: one JSON Schema (draft 2020-12) per kind of event, and the envelope
- ``contract``   loads them and validates a message (the push job validates before sending; so does the
                 test receiver)
- ``transport``  the HTTPS client: bearer token and/or client certificate, CA, timeouts

What is sent, when, in which order, and the reconciliation are business rules: xinyidai.domain.upstream.
"""
