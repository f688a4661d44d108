"""The key format (prefix, randomness, checksum) and the stop sequences scanner."""

from __future__ import annotations

from parley.core.auth.api_keys import KEY_PREFIX, key_hash, new_key_text, well_formed
from parley.core.openai_api.stop_sequences import StopScanner


def test_keys_are_prefixed_random_and_checksummed():
    keys = {new_key_text() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith(KEY_PREFIX) and len(key) == 56 and well_formed(key)
    key = next(iter(keys))
    for at in range(len(KEY_PREFIX), len(key)):  # any single mistyped character is caught by the checksum
        swapped = key[:at] + ("a" if key[at] != "a" else "b") + key[at + 1 :]
        assert not well_formed(swapped)
    assert not well_formed(key + "x") and not well_formed(key[:-1]) and not well_formed("ghp_" + key[7:])
    assert key_hash(key) != key and len(key_hash(key)) == 64


def test_stop_scanner_holds_back_what_may_be_a_stop_sequence():
    scanner = StopScanner(["END", "\n\n"])
    assert scanner.feed("Hello E") == "Hello"
    assert scanner.feed("N") == " "
    assert scanner.feed("Dless") == ""  # "END" found: nothing from it on
    assert scanner.matched and scanner.flush() == ""
    plain = StopScanner(["END"])
    assert plain.feed("EN") + plain.feed("ough") + plain.flush() == "ENough"
    assert not plain.matched
    assert StopScanner([]).feed("anything") == "anything"
