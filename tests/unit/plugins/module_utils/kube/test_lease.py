"""The lease rule: who may take or keep the controller's Lease."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.lease import LeaseElector, lease_is_free

NOW = datetime(2026, 12, 1, 2, 0, 10, 500000, tzinfo=timezone.utc).timestamp()


def _spec(holder: str, renew: str, duration: int = 3) -> dict:
    return {"holderIdentity": holder, "renewTime": renew, "leaseDurationSeconds": duration}


@pytest.mark.parametrize("renew", ["2026-12-01T02:00:09.000000Z", "2026-12-01T02:00:09.000000+00:00",
                                   "2026-12-01T02:00:09Z"])
def test_a_freshly_renewed_lease_of_another_holder_is_not_free(renew):
    assert not lease_is_free(_spec("other", renew), "me", NOW)


@pytest.mark.parametrize("renew", ["2026-12-01T02:00:07.000000Z", "2026-12-01T02:00:07+00:00"])
def test_a_lease_not_renewed_within_its_duration_is_free(renew):
    assert lease_is_free(_spec("other", renew), "me", NOW)


def test_the_holder_keeps_its_own_lease_and_an_empty_holder_is_free():
    assert lease_is_free(_spec("me", "2026-12-01T02:00:10Z"), "me", NOW)
    assert lease_is_free(_spec("", "2026-12-01T02:00:10Z"), "me", NOW)


def test_an_unreadable_renew_time_counts_as_never_renewed():
    assert lease_is_free(_spec("other", "yesterday"), "me", NOW)


def test_stopping_an_elector_that_never_started_does_not_raise():
    """A controller stopped during its start-up sync stops an elector whose thread never ran."""
    stopped = []
    elector = LeaseElector(None, "metallb-system", "metallb-controller", "me",
                           on_started=lambda: None, on_stopped=lambda: stopped.append(True))
    elector.stop()
    assert not elector.is_leader.is_set() and stopped == []
