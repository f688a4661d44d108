from __future__ import annotations

import logging

from parley.server.log_setup import RedactSecretsFilter, redact


def test_tickets_and_tokens_in_urls_are_redacted():
    line = 'GET /ws?ticket=abc.def-123&x=1 HTTP/1.1 token=eyJhbGciOi "password=hunter2"'
    assert redact(line) == 'GET /ws?ticket=[redacted]&x=1 HTTP/1.1 token=[redacted] "password=[redacted]"'


def test_filter_rewrites_uvicorn_access_records():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/ws?ticket=SECRET123", "1.1", 101),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert "SECRET123" not in record.getMessage()
    assert "ticket=[redacted]" in record.getMessage()


def test_share_link_tokens_in_paths_are_redacted():
    token = "Zq3k-Vx_9aB2cD4eF6gH8i"
    line = f'"GET /s/{token} HTTP/1.1" 200 then "GET /api/public/shares/{token}?x=1 HTTP/1.1" 404'
    redacted = redact(line)
    assert token not in redacted
    assert redacted == '"GET /s/[redacted] HTTP/1.1" 200 then "GET /api/public/shares/[redacted]?x=1 HTTP/1.1" 404'
    # The owner's routes name a share by its id, which is no secret: kept, so a log can still be read.
    assert redact("DELETE /api/shares/0123abcd") == "DELETE /api/shares/0123abcd"
