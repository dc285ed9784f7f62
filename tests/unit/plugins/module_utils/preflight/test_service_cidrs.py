# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the Service CIDRs come from: the option, ServiceCIDR objects, kubeadm-config."""

from __future__ import annotations

from ansible_collections.metal.lb.plugins.module_utils.engine.preflight.service_cidrs import choose

KUBEADM = {"data": {"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
                    "networking:\n  podSubnet: 203.0.113.0/25\n  serviceSubnet: 198.51.100.128/25,2001:db8:1::/112\n"}}
SERVICE_CIDRS = [{"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["198.51.100.0/26", "2001:db8:2::/112"]}},
                 {"metadata": {"name": "extra"}, "spec": {"cidrs": ["198.51.100.64/26"]}}]


def test_the_option_wins():
    assert choose(["203.0.113.0/28"], SERVICE_CIDRS, KUBEADM) == (["203.0.113.0/28"], "option")


def test_service_cidr_objects_then_kubeadm_config():
    assert choose([], SERVICE_CIDRS, KUBEADM) == (
        ["198.51.100.0/26", "2001:db8:2::/112", "198.51.100.64/26"], "ServiceCIDR objects")
    assert choose([], [], KUBEADM) == (["198.51.100.128/25", "2001:db8:1::/112"],
                                       "ConfigMap kube-system/kubeadm-config")


def test_unknown_when_nothing_says():
    assert choose([], [], None) == ([], "unknown")
    assert choose([], [], {"data": {"ClusterConfiguration": "networking: ["}}) == ([], "unknown")
    assert choose([], [], {"data": {"ClusterConfiguration": "kind: ClusterConfiguration\n"}}) == ([], "unknown")
