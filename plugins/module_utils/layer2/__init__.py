# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer-2 mode: who announces an IP and how the LAN learns it.

``election`` decides which node announces (pure; ``elect_all`` is shared by speaker and
planner); ``arp``/``ndp`` are the wire formats; ``interfaces`` says which links may announce;
``announcer`` owns the announced set and the gratuitous schedule (pure, clock-injected);
``responder`` is the raw-socket I/O that answers ARP/NDP. The VIP is never added to a
host interface.

A speaker needs two calls per reconcile::

    decisions = elect_all(config, balancers, nodes, endpoint_slices, members, my_node=NODE)
    responder.set_leading({ip: d.interfaces for ip, d in decisions.items() if d.reason is None})

with ``responder = Responder(metrics=CounterMetrics())`` started once (``start()``/``stop()``).
"""
