# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metav1.LabelSelector parsing and matching with Kubernetes' semantics."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.selectors import (
    EVERYTHING,
    any_matches,
    parse_selector,
    parse_selectors,
    selector_matches,
    selector_text,
)


def sel(**obj):
    return parse_selector(obj, "spec.s")


@pytest.mark.parametrize("selector, labels, expected", [
    ({}, {}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
    ({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]}, {"a": "1"}, False),
])
def test_matching(selector, labels, expected):
    assert selector_matches(sel(**selector), labels) is expected


def test_none_is_everything_and_empty_list_matches_all():
    assert parse_selector(None, "x") == EVERYTHING
    assert any_matches((), {"x": "y"})
    assert not any_matches((sel(matchLabels={"a": "1"}),), {})


@pytest.mark.parametrize("obj, message", [
    ("x", "spec.s: must be a label selector object, got a string"),
    ({"matchLabelz": {}}, "spec.s: unknown field(s) matchLabelz"),
    ({"matchLabels": {"a": 1}}, 'spec.s.matchLabels["a"]: must be a string, got an integer'),
    ({"matchLabels": {"bad key": "x"}}, 'spec.s.matchLabels: Invalid value: "bad key": name part must consist of '
                                        "alphanumeric characters, '-', '_' or '.'"),
    ({"matchLabels": {"example.com/a/b": "x"}}, 'spec.s.matchLabels: Invalid value: "example.com/a/b": a qualified'),
    ({"matchLabels": {"Example.com/a": "x"}}, 'spec.s.matchLabels: Invalid value: "Example.com/a": prefix part a '
                                              "lowercase RFC 1123 subdomain"),
    ({"matchLabels": {"a" * 64: "x"}}, 'spec.s.matchLabels: Invalid value: "%s": name part must be no more than 63 '
                                       "characters" % ("a" * 64)),
    ({"matchLabels": {"a": "-x"}}, 'spec.s.matchLabels["a"]: Invalid value: "-x": a valid label must be an empty'),
    ({"matchLabels": {"a": "x\n"}}, 'spec.s.matchLabels["a"]: Invalid value: "x\\n": a valid label'),
    ({"matchExpressions": [{"key": "rack zone", "operator": "Exists"}]},
     'spec.s.matchExpressions[0].key: Invalid value: "rack zone": name part must consist'),
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b c"]}]},
     'spec.s.matchExpressions[0].values[1]: Invalid value: "b c": a valid label must be'),
    ({"matchExpressions": [{"key": "a", "operator": "Near"}]},
     'spec.s.matchExpressions[0].operator: "Near" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]},
     "spec.s.matchExpressions[0].values: must be specified when operator is In"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     "spec.s.matchExpressions[0].values: may not be specified when operator is Exists"),
    ({"matchExpressions": [{"operator": "Exists"}]}, "spec.s.matchExpressions[0].key: required"),
])
def test_invalid_selectors(obj, message):
    """Kubernetes' own label syntax and messages (LabelSelectorAsSelector): a selector with a bad key is
    refused rather than silently never matching."""
    with pytest.raises(ValueError) as info:
        parse_selector(obj, "spec.s")
    assert str(info.value).startswith(message)


def test_duplicates_are_rejected_regardless_of_value_order():
    items = [{"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]},
             {"matchExpressions": [{"key": "a", "operator": "In", "values": ["2", "1"]}]}]
    with pytest.raises(ValueError, match=r'spec.nodeSelectors\[1\]: duplicate definition of nodeSelectors '
                                         r'"a in \(1,2\)"'):
        parse_selectors(items, "spec.nodeSelectors")


def test_selector_text_is_kubernetes_like():
    assert selector_text(sel(matchLabels={"b": "2", "a": "1"}, matchExpressions=[
        {"key": "c", "operator": "Exists"}, {"key": "d", "operator": "DoesNotExist"},
        {"key": "e", "operator": "NotIn", "values": ["y", "x"]}])) == "a=1,b=2,c,!d,e notin (x,y)"
