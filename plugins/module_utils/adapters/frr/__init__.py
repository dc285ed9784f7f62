# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node's own FRR, driven by the speaker: ``instance`` runs its daemons (own pathspace, so a
host's other FRR is untouched), ``vtysh`` applies the engine's command batches and reads FRR's
state back, ``session_state`` turns FRR's JSON into the sessions the speaker reports."""
