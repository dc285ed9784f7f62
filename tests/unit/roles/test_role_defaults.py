# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role defaults read from inventory variables: a survey's "" counts as unset, and false stays false."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml

from ansible_collections.metal.lb.tests.unit.roles.test_systemd_units import evaluate

ROLES = Path(__file__).resolve().parents[3] / "roles"


@pytest.mark.parametrize("role", ["controller", "speaker"])
@pytest.mark.parametrize(
    "inventory, expected",
    [({}, True), ({"metal_lb_apt_update_cache": ""}, True), ({"metal_lb_apt_update_cache": None}, True),
     ({"metal_lb_apt_update_cache": False}, False), ({"metal_lb_apt_update_cache": "false"}, False),
     ({"metal_lb_apt_update_cache": True}, True)],
)
def test_apt_refresh_follows_the_inventory_and_false_turns_it_off(role, inventory, expected):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    try:
        value = evaluate(defaults["%s_apt_update_cache" % role], dict(inventory))
    except jinja2.UndefinedError as exc:  # pragma: no cover - the message names what is missing
        pytest.fail(str(exc))
    assert value is expected
