# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by everything that runs the metal.lb planner over a set of objects."""

from __future__ import annotations


class ModuleDocFragment:
    """The config/planner options: which objects, and the cluster facts they are checked against."""

    DOCUMENTATION = r"""
options:
  objects:
    description:
      - Kubernetes objects to plan, as dictionaries (for example the result of
        R(kubernetes.core.k8s_info,ansible_collections.kubernetes.core.k8s_info_module) or
        C(lookup('file', ...) | from_yaml_all)).
      - C(metallb.io) custom resources (C(IPAddressPool), C(L2Advertisement), C(BGPAdvertisement),
        C(BGPPeer), C(Community), C(BFDProfile)), the legacy C(config) ConfigMap, C(Service),
        C(Namespace) and C(Node) objects are used; other kinds are ignored.
      - List kinds (C(kind=List), C(kind=ServiceList), ...) are expanded to their items.
    type: list
    elements: dict
    default: []
  files:
    description:
      - Paths of YAML or JSON manifest files, read on the managed node, in addition to O(objects).
      - A file may hold several YAML documents. A directory stands for the C(.yaml), C(.yml) and
        C(.json) files directly in it, in name order (like C(kubectl apply -f DIR)).
    type: list
    elements: path
    default: []
  lb_class:
    description:
      - The load balancer class this installation handles (MetalLB's C(--lb-class)).
      - Empty means services without C(spec.loadBalancerClass); services of another class are ignored.
    type: str
    default: ""
  namespace:
    description:
      - The namespace metal.lb runs in; C(metallb.io) objects in other namespaces are ignored, as
        MetalLB does.
    type: str
    default: metallb-system
  service_cidrs:
    description:
      - The cluster's Service (ClusterIP) CIDRs. A pool that overlaps one of them is an error (a check
        MetalLB does not make).
    type: list
    elements: str
    default: []
  gateways:
    description:
      - Gateway (router) addresses of the node networks. A pool that contains one of them is an error
        (a check MetalLB does not make).
    type: list
    elements: str
    default: []
  allow_node_ip_pools:
    description:
      - A pool that contains the C(InternalIP) or C(ExternalIP) of one of the given C(Node) objects is an
        error, so that a node's own address is never announced from another node.
      - With V(true), a node address listed by itself as a pool entry (a C(/32), C(/128) or C(a-a) entry)
        is accepted; wider entries that contain it are still errors.
    type: bool
    default: false
"""
