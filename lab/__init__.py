# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The namespace lab behind ``make lab``, the lab tests and ``benchmarks/failover.py``.

netns.py      namespaces, the bridge, veths, processes; always torn down; state for ``make lab-down``
topology.py   the lab's addresses (documentation ranges only)
objects.py    the Kubernetes objects the lab writes (Nodes, Services, EndpointSlices, pools ...)
kube.py       etcd + the real kube-apiserver (make k8s), certificates, ServiceAccount tokens
relay.py      TCP relay: the API server (in its namespace) on host loopback
kube_proxy.py kube-proxy IPVS-mode emulation for one node (kube-ipvs0, strictARP sysctls, nftables)
backend.py    a "pod": an HTTP server answering with its pod and node name
cluster.py    the whole lab: API, controller, kube-proxies, backends, speakers
probe.py      ARP and TCP probes of a VIP from the client (failover measurement)
demo.py       ``make lab``;  down.py: ``make lab-down``
image.py      the lab hosts' Debian image (debootstrap, cached by recipe)
hosts.py      lab hosts: systemd-nspawn machines in the lab namespaces, an admin namespace, inventory
__main__.py   ``python -m lab up [--hosts]`` / ``python -m lab down``
"""
