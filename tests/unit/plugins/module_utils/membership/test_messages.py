# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The membership wire format: round trips, and every kind of bad datagram is a DecodeError."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.adapters.membership import messages as M

KEY = b"0123456789abcdef0123456789abcdef"
OTHER_KEY = b"fedcba9876543210fedcba9876543210"
CLUSTER = M.cluster_id("metal-lb")

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(
    lambda s: 1 <= len(s.encode("utf-8")) <= M.MAX_NAME)
u64 = st.integers(min_value=0, max_value=2**64 - 1)


def sample_messages() -> list[M.Message]:
    entries = (M.Entry("node-a", 5, M.State.UP, 1234, False), M.Entry("node-b", 7, M.State.DOWN, 0, True),
               M.Entry("nöde-ü", 2**63, M.State.LEFT, 2**32 - 1))
    return [
        M.Message(M.Kind.HEARTBEAT, "node-a", 17, 3, 1_700_000_000_000, digest=b"12345678"),
        M.Message(M.Kind.ALIVE, "node-a", 18, 4, 1_700_000_000_001, flags=M.FLAG_REJOIN),
        M.Message(M.Kind.DOWN, "node-a", 18, 5, 1, flags=M.FLAG_CONFIRMED, subject="node-b",
                  subject_incarnation=99),
        M.Message(M.Kind.LEAVE, "node-a", 18, 6, 2),
        M.Message(M.Kind.SYNC_REQ, "node-a", 18, 7, 3),
        M.Message(M.Kind.SYNC, "node-a", 18, 8, 4, entries=entries),
    ]


@pytest.mark.parametrize("msg", sample_messages(), ids=lambda m: m.kind.name)
def test_round_trip_every_kind(msg):
    assert M.decode(M.encode(msg, KEY, CLUSTER), [KEY], CLUSTER) == msg


@given(kind=st.sampled_from(list(M.Kind)), sender=names, subject=names, inc=u64, seq=u64, sent=u64,
       sinc=u64, flags=st.integers(0, 255), digest=st.binary(min_size=8, max_size=8))
def test_round_trip_property(kind, sender, subject, inc, seq, sent, sinc, flags, digest):
    fields = {}
    if kind == M.Kind.HEARTBEAT:
        fields["digest"] = digest
    if kind == M.Kind.DOWN:
        fields.update(subject=subject, subject_incarnation=sinc)
    if kind == M.Kind.SYNC:
        fields["entries"] = (M.Entry(subject, sinc, M.State.UP, 5, True),)
    msg = M.Message(kind, sender, inc, seq, sent, flags, **fields)
    assert M.decode(M.encode(msg, KEY, CLUSTER), [KEY], CLUSTER) == msg


def test_mac_covers_every_byte():
    data = M.encode(sample_messages()[2], KEY, CLUSTER)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01
        with pytest.raises(M.DecodeError) as e:
            M.decode(bytes(bad), [KEY], CLUSTER)
        assert e.value.reason in ("bad_magic", "bad_version", "bad_mac")


def test_wrong_key_is_bad_mac_and_rotation_accepts_old_key():
    data = M.encode(sample_messages()[0], OTHER_KEY, CLUSTER)
    with pytest.raises(M.DecodeError, match="bad_mac"):
        M.decode(data, [KEY], CLUSTER)
    assert M.decode(data, [KEY, OTHER_KEY], CLUSTER).sender == "node-a"


def test_wrong_cluster_is_its_own_reason():
    data = M.encode(sample_messages()[0], KEY, M.cluster_id("another-cluster"))
    with pytest.raises(M.DecodeError, match="wrong_cluster"):
        M.decode(data, [KEY], CLUSTER)


def test_every_truncation_is_a_decode_error():
    data = M.encode(sample_messages()[5], KEY, CLUSTER)
    for n in range(len(data)):
        with pytest.raises(M.DecodeError):
            M.decode(data[:n], [KEY], CLUSTER)


def test_bad_version_and_magic():
    data = bytearray(M.encode(sample_messages()[0], KEY, CLUSTER))
    data[2] = 2
    with pytest.raises(M.DecodeError, match="bad_version"):
        M.decode(bytes(data), [KEY], CLUSTER)
    data[0:2] = b"XX"
    with pytest.raises(M.DecodeError, match="bad_magic"):
        M.decode(bytes(data), [KEY], CLUSTER)


def _signed(body: bytes) -> bytes:
    return body + hmac.digest(KEY, body, "sha256")


def test_correctly_signed_but_malformed_bodies():
    header = M.MAGIC + bytes([M.VERSION])
    tail = CLUSTER + (1).to_bytes(8, "big") * 3
    cases = [
        header + bytes([99, 0]) + tail + b"\x01a",  # unknown kind
        header + bytes([M.Kind.HEARTBEAT, 0]) + tail + b"\x01a" + b"123",  # short digest
        header + bytes([M.Kind.ALIVE, 0]) + tail + b"\x00zz",  # empty sender name
        header + bytes([M.Kind.ALIVE, 0]) + tail + b"\x02\xff\xfe",  # not UTF-8
        header + bytes([M.Kind.ALIVE, 0]) + tail + b"\x01a" + b"extra",  # trailing bytes
        header + bytes([M.Kind.SYNC, 0]) + tail + b"\x01a" + b"\x00\x05",  # 5 entries, none there
        # one entry with state 9
        header + bytes([M.Kind.SYNC, 0]) + tail + b"\x01a\x00\x01\x01b" + bytes(8) + b"\x09" + bytes(4),
    ]
    for data in cases:
        with pytest.raises(M.DecodeError) as e:
            M.decode(_signed(data), [KEY], CLUSTER)
        assert e.value.reason == "malformed", data


@given(st.binary(max_size=2000))
def test_hostile_bytes_never_raise_anything_else(data):
    with pytest.raises(M.DecodeError):
        M.decode(data, [KEY], CLUSTER)


@given(st.binary(max_size=600))
def test_hostile_signed_bodies_never_raise_anything_else(body):
    """Even a key holder sending garbage (a bug, a compromised node) only gets a DecodeError."""
    data = M.MAGIC + bytes([M.VERSION]) + body
    try:
        M.decode(_signed(data), [KEY], CLUSTER)
    except M.DecodeError:
        pass


@given(st.lists(st.tuples(names, u64, st.sampled_from(list(M.State)), st.integers(0, 2**32 - 1)),
                max_size=200))
def test_sync_pages_fit_a_datagram_and_keep_every_entry(rows):
    entries = [M.Entry(n, i, s, a) for n, i, s, a in rows]
    pages = M.sync_messages("sender", 1, entries)
    decoded = []
    for page in pages:
        data = M.encode(page, KEY, CLUSTER)
        assert len(data) <= M.MAX_DATAGRAM
        decoded.extend(M.decode(data, [KEY], CLUSTER).entries)
    assert decoded == entries


def test_names_are_bounded_when_encoding():
    with pytest.raises(ValueError):
        M.encode(M.Message(M.Kind.ALIVE, "x" * 254, 1), KEY, CLUSTER)
    with pytest.raises(ValueError):
        M.encode(M.Message(M.Kind.ALIVE, "", 1), KEY, CLUSTER)


def test_cluster_id_is_a_stable_hash():
    assert M.cluster_id("metal-lb") == hashlib.sha256(b"metal-lb").digest()[:8]
    assert M.cluster_id("a") != M.cluster_id("b")
