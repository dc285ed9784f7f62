# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What installing metal.lb into a cluster decides: where objects live in the API, whether an apply
changed one, how the webhooks are registered, when a daemon's token is renewed."""
