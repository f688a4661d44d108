"""Believing the viewer address CloudFront sends: only with the origin secret, and only when it is one address."""

from __future__ import annotations

import pytest

from parley.server.cloudfront import SECRET_HEADER, VIEWER_ADDRESS_HEADER, viewer_address

SECRET = "s" * 64


def headers(address: str, secret: str | None = SECRET) -> dict[str, str]:
    sent = {VIEWER_ADDRESS_HEADER.lower(): address}
    if secret is not None:
        sent[SECRET_HEADER.lower()] = secret
    return sent


@pytest.mark.parametrize(
    ("sent", "address"),
    [
        ("198.51.100.23", "198.51.100.23"),
        (" 198.51.100.23 ", "198.51.100.23"),
        ("2001:db8::7", "2001:db8::7"),
        ("2001:0db8:0000::0007", "2001:db8::7"),  # one spelling per address
        ("198.51.100.23:50312", None),  # not what the function writes
        ("[2001:db8::7]", None),
        ("198.51.100.23, 203.0.113.1", None),  # two headers joined
        ("example.com", None),
        ("", None),
    ],
)
def test_the_viewer_address_is_one_ip_address(sent, address):
    assert viewer_address(headers(sent), SECRET) == address


@pytest.mark.parametrize("offered", [None, "", SECRET[:-1], SECRET + "s", SECRET.upper()])
def test_without_the_origin_secret_the_header_is_not_believed(offered):
    assert viewer_address(headers("198.51.100.23", offered), SECRET) is None


@pytest.mark.parametrize("configured", [None, ""])
def test_with_no_secret_configured_it_is_never_believed(configured):
    # `parley serve`, and any deployment without CloudFront in front: the peer is the client.
    assert viewer_address(headers("198.51.100.23", ""), configured) is None
    assert viewer_address(headers("198.51.100.23"), configured) is None
