"""Rollout cohorts: the right share of ids, stable as the percentage grows, overrides, kills."""

from __future__ import annotations

import pytest

from agent.rollout import ALL_TENANTS, FlagSnapshot, FlagState, bucket, decide, enabled

IDS = [f"customer_{i:05d}" for i in range(10_000)]


def _share(percent: int, flag: str = "ai") -> float:
    state = FlagState(percent=percent)
    return sum(enabled(state, flag, i) for i in IDS) / len(IDS)


@pytest.mark.parametrize(("percent", "tolerance"), [(5, 0.008), (25, 0.015), (50, 0.02)])
def test_cohort_size_matches_the_percentage(percent: int, tolerance: float) -> None:
    assert abs(_share(percent) - percent / 100) <= tolerance


def test_zero_and_hundred_are_exact() -> None:
    assert _share(0) == 0
    assert _share(100) == 1


def test_cohorts_only_grow_as_the_rollout_widens() -> None:
    cohorts = [{i for i in IDS if enabled(FlagState(percent=p), "ai", i)} for p in (5, 25, 100)]
    assert cohorts[0] <= cohorts[1] <= cohorts[2]
    assert len(cohorts[0]) < len(cohorts[1]) < len(cohorts[2])


def test_the_same_id_always_lands_in_the_same_bucket() -> None:
    assert [bucket("ai", i) for i in IDS[:50]] == [bucket("ai", i) for i in IDS[:50]]


def test_flags_draw_independent_cohorts() -> None:
    ai = {i for i in IDS if enabled(FlagState(percent=25), "ai", i)}
    tools = {i for i in IDS if enabled(FlagState(percent=25), "ai.tools", i)}
    overlap = len(ai & tools) / len(ai)
    assert 0.2 < overlap < 0.3  # about 25%, as for independent draws


def test_kill_beats_any_percentage() -> None:
    assert _share(100) == 1
    assert not any(enabled(FlagState(percent=100, killed=True), "ai", i) for i in IDS[:500])


def test_tenant_override_wins_over_the_global_setting() -> None:
    snapshot = FlagSnapshot(
        {
            ("ai", ALL_TENANTS): FlagState(percent=0),
            ("ai", "acme"): FlagState(percent=100),
        }
    )
    assert decide(snapshot, "acme", "c1", "t1").ai_off_reason is None
    assert decide(snapshot, "demo", "c1", "t1").ai_off_reason == "rollout"


def test_kill_switch_and_rollout_are_told_apart() -> None:
    killed = FlagSnapshot({("ai", ALL_TENANTS): FlagState(killed=True)})
    assert decide(killed, "demo", "c1", "t1").ai_off_reason == "kill_switch"
    capability = FlagSnapshot({("ai.tools", ALL_TENANTS): FlagState(killed=True)})
    decision = decide(capability, "demo", "c1", "t1")
    assert decision.ai_off_reason is None
    assert not decision.tools
    assert decision.generation


def test_no_flags_means_everything_on() -> None:
    decision = decide(FlagSnapshot(), "demo", None, "thread-1")
    assert (decision.ai_off_reason, decision.tools, decision.generation) == (None, True, True)


def test_tenant_unit_switches_whole_tenants() -> None:
    snapshot = FlagSnapshot({("ai", ALL_TENANTS): FlagState(percent=50, unit="tenant")})
    tenants = [f"tenant-{i}" for i in range(200)]
    for tenant in tenants[:20]:
        outcomes = {decide(snapshot, tenant, f"c{i}", f"t{i}").ai_off_reason for i in range(30)}
        assert len(outcomes) == 1  # every customer of a tenant gets the same answer
    share = sum(decide(snapshot, t, "c", "t").ai_off_reason is None for t in tenants) / 200
    assert 0.35 < share < 0.65


def test_anonymous_visitors_are_bucketed_by_conversation() -> None:
    snapshot = FlagSnapshot({("ai", ALL_TENANTS): FlagState(percent=50)})
    first = decide(snapshot, "demo", None, "thread-a").ai_off_reason
    assert all(decide(snapshot, "demo", None, "thread-a").ai_off_reason == first for _ in range(5))
