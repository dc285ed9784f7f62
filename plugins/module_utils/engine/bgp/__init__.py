# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP mode: which sessions a node runs and what each router receives, decided here, spoken by FRR.

``sessions`` resolves the BGPPeers that run on a node (every field, defaults, the password);
``announce`` is MetalLB's ``ShouldAnnounce`` and the prefixes of one service; ``node_state`` puts
every service together into what one node sends to each peer (the speaker's and the planner's one
function; ``planned`` is the planner's view of it); ``frr_config`` renders that as FRR configuration
and ``frr_diff`` turns two renderings into the few vtysh commands that change only what changed.
"""
