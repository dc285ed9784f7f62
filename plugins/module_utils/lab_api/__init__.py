# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The lab Kubernetes API: a small, honest API server for `make lab` and the integration tests.

The unmodified ``kubernetes`` Python client talks to it through a kubeconfig. It implements list and
watch with resourceVersions, 409 on stale writes, 410 for expired watch versions, status subresources,
JSON merge / strategic merge / JSON patch, label and field selectors, CRDs (with structural-schema
pruning, defaulting and validation, and a CEL subset), namespaces, Events and Leases. What it does not
implement answers with a clear 4xx ``Status``; docs/lab-api.md lists both.

Modules: ``store`` (objects, resourceVersions, watch history), ``resources`` (registry, discovery),
``schema`` + ``cel`` (CRD validation), ``patch``, ``selectors``, ``services`` (cluster IPs, node ports),
``conversion`` (served versions), ``operations`` (the verbs), ``http`` (routing), ``cli`` (``main``).
Not evaluated: CEL outside the subset in ``cel.py`` (reported in a ``Warning`` header, never silently
passed), admission webhooks, conversion webhooks (MetalLB's BGPPeer conversion is built in).
"""
