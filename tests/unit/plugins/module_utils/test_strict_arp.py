# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipvs.strictARP in kube-proxy's config.conf: one targeted edit, every other byte kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.engine.strict_arp import StrictArpError, ensure_strict_arp

SAMPLE_DIR = Path(__file__).parent / "kube_proxy_samples"
SAMPLES = {path.stem: path.read_text() for path in sorted(SAMPLE_DIR.glob("*.conf"))}
MODE_LINE = re.compile(r'^mode: .*$', re.M)


def with_mode(text: str, mode: str) -> str:
    return MODE_LINE.sub('mode: "%s"' % mode, text, count=1)


def expected_conf(text: str) -> dict:
    conf = yaml.safe_load(text)
    conf["ipvs"] = dict(conf.get("ipvs") or {}, strictARP=True)
    return conf


def assert_one_edit(before: str, after: str, edit) -> None:
    """Everything outside the edit is byte for byte the input; the edit touches strictARP only."""
    assert after == before[: edit.start] + edit.replacement + before[edit.end:]
    assert before[: edit.start] == after[: edit.start]
    assert before[edit.end:] == after[len(after) - (len(before) - edit.end):]
    removed = before[edit.start: edit.end]
    assert removed in ("", "false", "False", "no", '"false"', "null", "~")
    assert "strictARP: true" in edit.replacement or edit.replacement == "true"


def test_samples_are_real_kube_proxy_configurations():
    assert set(SAMPLES) == {"kubeadm", "kubespray", "hand-written"}
    for text in SAMPLES.values():
        assert yaml.safe_load(text)["kind"] == "KubeProxyConfiguration"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_ipvs_mode_gets_strict_arp_and_nothing_else_changes(name):
    before = with_mode(SAMPLES[name], "ipvs")
    result = ensure_strict_arp(before)
    assert result.changed and result.applies and result.strict_arp
    assert yaml.safe_load(result.text) == expected_conf(before)
    assert_one_edit(before, result.text, result.edit)
    assert len(before.splitlines()) <= len(result.text.splitlines()) <= len(before.splitlines()) + 1


def test_kubeadm_false_becomes_true_in_place():
    before = with_mode(SAMPLES["kubeadm"], "ipvs")
    after = ensure_strict_arp(before).text
    assert after == before.replace("  strictARP: false\n", "  strictARP: true\n")


def test_missing_key_is_inserted_in_kubeadm_sorted_order():
    before = with_mode(SAMPLES["kubeadm"], "ipvs").replace("  strictARP: false\n", "")
    after = ensure_strict_arp(before).text
    assert "  scheduler: \"\"\n  strictARP: true\n  syncPeriod: 0s\n" in after


def test_missing_key_in_unsorted_mapping_goes_after_the_last_key_at_its_indentation():
    before = SAMPLES["hand-written"]
    after = ensure_strict_arp(before).text
    assert "    minSyncPeriod: 2s\n    strictARP: true\nmetricsBindAddress" in after


def test_comment_on_the_value_line_is_kept():
    before = "mode: ipvs\nipvs:\n  strictARP: false  # see the MetalLB docs\n"
    assert ensure_strict_arp(before).text == "mode: ipvs\nipvs:\n  strictARP: true  # see the MetalLB docs\n"


@pytest.mark.parametrize("before, after", [
    ("mode: ipvs\nipvs:\nkind: KubeProxyConfiguration\n",
     "mode: ipvs\nipvs: {strictARP: true}\nkind: KubeProxyConfiguration\n"),
    ("mode: ipvs\nipvs: null\n", "mode: ipvs\nipvs: {strictARP: true}\n"),
    ("mode: ipvs\nipvs: {}\n", "mode: ipvs\nipvs: {strictARP: true}\n"),
    ("mode: ipvs\nipvs: {scheduler: rr}\n", "mode: ipvs\nipvs: {strictARP: true, scheduler: rr}\n"),
    ('{"mode": "ipvs", "kind": "KubeProxyConfiguration"}',
     '{ipvs: {strictARP: true}, "mode": "ipvs", "kind": "KubeProxyConfiguration"}'),
    ("kind: KubeProxyConfiguration\nmode: ipvs\n",
     "ipvs:\n  strictARP: true\nkind: KubeProxyConfiguration\nmode: ipvs\n"),
    ("mode: ipvs\r\nipvs:\r\n  scheduler: rr\r\n", "mode: ipvs\r\nipvs:\r\n  scheduler: rr\r\n  strictARP: true\r\n"),
    ("mode: ipvs\nipvs:\n  scheduler: rr", "mode: ipvs\nipvs:\n  scheduler: rr\n  strictARP: true\n"),
])
def test_shapes_of_the_ipvs_mapping(before, after):
    result = ensure_strict_arp(before)
    assert result.text == after
    assert yaml.safe_load(after) == expected_conf(before)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "", "kernelspace", "IPVS"])
def test_other_modes_are_left_alone_and_say_so(mode):
    before = with_mode(SAMPLES["kubeadm"], mode)
    result = ensure_strict_arp(before)
    assert not result.changed and not result.applies and result.edit is None
    assert result.text == before
    assert "ipvs mode only" in result.message
    assert (mode or "unset") in result.message


def test_mode_absent_is_the_iptables_default():
    result = ensure_strict_arp("kind: KubeProxyConfiguration\nipvs:\n  strictARP: false\n")
    assert not result.changed and result.mode == "" and "iptables" in result.message


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_second_run_changes_nothing(name):
    first = ensure_strict_arp(with_mode(SAMPLES[name], "ipvs"))
    second = ensure_strict_arp(first.text)
    assert not second.changed and second.applies and second.strict_arp
    assert second.text == first.text and "already true" in second.message


@pytest.mark.parametrize("text, fragment", [
    ("mode: ipvs\nipvs: [a\n", "not parseable YAML"),
    ("mode: ipvs\n\tipvs: {}\n", "not parseable YAML"),
    ("- mode\n- ipvs\n", "not a KubeProxyConfiguration mapping"),
    ("mode: ipvs\nipvs: 3\n", "ipvs is not a mapping"),
    ("mode: ipvs\nipvs:\n  strictARP: [true]\n", "ipvs.strictARP is not a scalar"),
    ("mode: ipvs\nipvs:\n  scheduler: rr\n  scheduler: lc\n", "duplicate key 'scheduler'"),
    ("mode: ipvs\nipvs: {}\nipvs: {}\n", "duplicate key 'ipvs'"),
    ("base: &base {scheduler: rr}\nmode: ipvs\nipvs: *base\n", "anchors, aliases or tags"),
    ("base: &base\n  scheduler: rr\nmode: ipvs\nipvs: *base\n", "would change other keys"),
    ("---\nmode: ipvs\n---\nmode: iptables\n", "not parseable YAML"),
])
def test_unreadable_or_unsafe_input_is_refused_with_the_reason(text, fragment):
    with pytest.raises(StrictArpError, match=re.escape(fragment)):
        ensure_strict_arp(text)


# ---------------------------------------------------------------- properties over the real samples

COMMENT = st.from_regex(r"# [a-z0-9 ]{0,12}", fullmatch=True)


@st.composite
def variants(draw):
    """A sample in ipvs mode, with strictARP false/absent/true, re-indented, reordered, with comments and
    blank lines sprinkled in, and LF or CRLF."""
    conf = yaml.safe_load(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    conf["mode"] = "ipvs"
    ipvs = dict(conf.get("ipvs") or {})
    state = draw(st.sampled_from(["false", "absent", "true", "no-ipvs"]))
    if state == "no-ipvs":
        conf.pop("ipvs", None)
    else:
        ipvs.pop("strictARP", None)
        if state != "absent":
            ipvs["strictARP"] = state == "true"
        items = list(ipvs.items())
        if draw(st.booleans()):
            items = draw(st.permutations(items))
        conf["ipvs"] = dict(items)
    keys = list(conf)
    if draw(st.booleans()):
        keys = draw(st.permutations(keys))
    text = yaml.safe_dump({k: conf[k] for k in keys}, indent=draw(st.sampled_from([2, 4])),
                          sort_keys=draw(st.booleans()), default_flow_style=False)
    lines = text.splitlines()
    out = []
    for line in lines:
        for _index in range(draw(st.integers(0, 1))):
            out.append(draw(st.sampled_from(["", " " * draw(st.integers(0, 6)) + draw(COMMENT)])))
        if draw(st.integers(0, 4)) == 0 and not line.rstrip().endswith(("|", ">", "|-", ">-")):
            line += "  " + draw(COMMENT)
        out.append(line)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(out) + (newline if draw(st.booleans()) else "")


@given(variants())
def test_property_only_strict_arp_changes_byte_for_byte(text):
    before_conf = yaml.safe_load(text)
    result = ensure_strict_arp(text)
    assert yaml.safe_load(result.text) == expected_conf(text)
    if (before_conf.get("ipvs") or {}).get("strictARP") is True:
        assert not result.changed and result.text == text
        return
    assert result.changed
    assert_one_edit(text, result.text, result.edit)
    again = ensure_strict_arp(result.text)
    assert not again.changed and again.text == result.text


@given(variants(), st.sampled_from(["iptables", "nftables", ""]))
def test_property_other_modes_never_change_a_byte(text, mode):
    text = re.sub(r"^mode: .*$", "mode: '%s'" % mode, text, count=1, flags=re.M)
    result = ensure_strict_arp(text)
    assert not result.changed and result.text == text
