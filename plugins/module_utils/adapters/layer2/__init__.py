# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer-2 wire and sockets: how the LAN learns which node answers for an IP.

``arp``/``ndp`` are the wire formats; ``interfaces`` says which links may announce;
``announcer`` owns the announced set and the gratuitous schedule (pure, clock-injected);
``responder`` is the raw-socket I/O that answers ARP/NDP. Who announces is decided by the
engine (``election``). The VIP is never added to a host interface.
"""
