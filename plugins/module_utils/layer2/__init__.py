# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer-2 mode: who announces an IP and how the LAN learns it.

``election`` decides which node announces (pure, shared by speaker and planner);
``arp``/``ndp`` are the wire formats; ``interfaces`` says which links may announce;
``announcer`` owns the announced set and the gratuitous schedule (pure, clock-injected);
``responder`` is the raw-socket I/O that answers ARP/NDP. The VIP is never added to a
host interface.
"""
