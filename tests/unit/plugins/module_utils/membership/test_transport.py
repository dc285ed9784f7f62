# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two membership inputs a user writes: --membership-bind and the key file."""

from __future__ import annotations

import os

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.transport import (
    DEFAULT_PORT,
    MembershipConfigError,
    load_keys,
    parse_bind,
)


@pytest.mark.parametrize("text, expected", [
    ("198.51.100.7", ("198.51.100.7", DEFAULT_PORT)),
    ("198.51.100.7:8000", ("198.51.100.7", 8000)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("2001:db8::7", ("2001:db8::7", DEFAULT_PORT)),
    ("[2001:db8::7]:7947", ("2001:db8::7", 7947)),
    ("[2001:db8::7]", ("2001:db8::7", DEFAULT_PORT)),
])
def test_parse_bind(text, expected):
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["node1:7946", "198.51.100.7:http", "198.51.100.7:70000",
                                  "[2001:db8::7", "[2001:db8::7]x", ""])
def test_bad_bind_is_one_message_naming_the_option_and_value(text):
    with pytest.raises(MembershipConfigError) as e:
        parse_bind(text)
    assert str(e.value).startswith(f"--membership-bind {text!r}")


def test_keys_one_per_line_with_comments(tmp_path):
    path = tmp_path / "key"
    path.write_bytes(b"# rotated 2026-11\nnew-key-0123456789abcdef\n\n  old-key-0123456789abcdef  \n")
    os.chmod(path, 0o600)
    assert load_keys(str(path)) == (b"new-key-0123456789abcdef", b"old-key-0123456789abcdef")


@pytest.mark.parametrize("content, words", [
    (b"", "no key in file"),
    (b"# only a comment\n", "no key in file"),
    (b"short\n", "line 1: key is 5 bytes, need >= 16"),
])
def test_bad_key_files(tmp_path, content, words):
    path = tmp_path / "key"
    path.write_bytes(content)
    with pytest.raises(MembershipConfigError) as e:
        load_keys(str(path))
    assert str(e.value) == f"--membership-key-file {path}: {words}"


def test_missing_key_file(tmp_path):
    with pytest.raises(MembershipConfigError, match=r"--membership-key-file .*/absent: cannot read"):
        load_keys(str(tmp_path / "absent"))
