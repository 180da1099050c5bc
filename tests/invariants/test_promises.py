"""What the docs promise, held on every plan: a team namespace's quotas are the team's settings and
its LimitRange makes them usable without throttling training (docs/training.md, Team namespaces),
and every billable resource is either priced or listed as unpriced (docs/cost.md: "never silently
zero")."""

from __future__ import annotations

import pytest

from infra.cost import free_reason, from_plan
from tests.invariants.variants import PLANS, plan_of, settings_for, stacks_dir_for


@pytest.mark.parametrize("name", PLANS)
def test_team_quotas_are_the_settings_and_the_limit_range_makes_them_usable(name):
    """Kubernetes (Resource Quotas, "Compute Resource Quota"): with a quota on requests.cpu or
    limits.memory, a pod that does not set them is rejected, unless a LimitRange gives defaults. So
    every quota on requests.X has a default request for X and every quota on limits.X a default
    limit; the one default a training job must not get is a CPU limit, which throttles it."""
    plan = plan_of(name)
    teams = settings_for(name).training.teams
    assert teams
    for team in teams:
        (quota,) = [q for q in plan.of_type("kubernetes:core/v1:ResourceQuota") if _ns(q) == team.name]
        (limits,) = [x for x in plan.of_type("kubernetes:core/v1:LimitRange") if _ns(x) == team.name]
        hard = quota.inputs["spec"]["hard"]
        assert hard["requests.nvidia.com/gpu"] == str(team.gpu_quota)
        assert hard["requests.cpu"] == str(team.cpu_quota)
        assert hard["requests.memory"] == f"{team.memory_quota_gi}Gi"
        (container,) = [c for c in limits.inputs["spec"]["limits"] if c["type"] == "Container"]
        for key in hard:
            kind, _, resource = key.partition(".")
            if resource.startswith("nvidia.com/"):
                continue  # an extended resource: the job asks for GPUs itself, requests equal to limits
            defaults = container.get("defaultRequest" if kind == "requests" else "default") or {}
            assert resource in defaults, f"{team.name}: a quota on {key} with no default for it"
        assert "cpu" not in (container.get("default") or {}), f"{team.name}: a default CPU limit throttles training"


def _ns(resource) -> str:
    return resource.inputs["metadata"].get("namespace")


@pytest.mark.parametrize("name", PLANS)
def test_every_billable_resource_is_priced_or_listed_as_unpriced(name):
    """Over resource types, not a list of today's: a resource of a type not declared free (with its
    reason, infra/cost.py FREE and FREE_WHEN) must appear in the report, as a figure, a unit price or unpriced."""
    plan = plan_of(name)
    cost = from_plan(plan)
    accounted = {x.resource for x in (*cost.items, *cost.usage, *cost.unpriced)}
    missing = [
        f"{r.type}::{r.name}"
        for r in plan
        if r.custom and free_reason(r.type, r.inputs) is None and f"{r.type.split(':')[-1]}::{r.name}" not in accounted
    ]
    assert missing == []


@pytest.mark.parametrize("name", PLANS)
def test_every_variant_passes_the_policy_pack(name, monkeypatch):
    """What the docs offer an engineer must pass the pack (the stacks themselves: tests/policies)."""
    from infra.definitions import STACKS_DIR_ENV
    from pipelines.policy_check import evaluate

    monkeypatch.setenv(STACKS_DIR_ENV, str(stacks_dir_for(name)))
    violations = [v for v in evaluate(plan_of(name)) if v.mandatory]
    assert violations == [], "\n".join(f"{v.rule}: {v.path}: {v.message}" for v in violations)


@pytest.mark.parametrize("name", PLANS)
def test_every_alarm_is_one_cloudwatch_accepts(name):
    """PutMetricAlarm refuses a period that is not 10, 20, 30 or a minute multiple, and a look-back of
    more than seven days (one day with periods under an hour): a `pulumi up` would stop on it."""
    from foundation.upstream.services import alarm_window_problem

    problems = {}
    for alarm in plan_of(name).of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        periods = [alarm.inputs["period"]] if "period" in alarm.inputs else []
        periods += [q["metric"]["period"] for q in alarm.inputs.get("metricQueries") or [] if q.get("metric")]
        assert periods, alarm.name
        for period in periods:
            problem = alarm_window_problem(period, alarm.inputs["evaluationPeriods"])
            if problem:
                problems[alarm.inputs["name"]] = problem
    assert problems == {}


def test_the_alarm_window_rule_is_the_documented_one():
    """The API reference's own numbers, on both sides of each limit."""
    from foundation.upstream.services import alarm_window_problem

    accepted = [(10, 8640), (60, 1440), (300, 288), (3600, 168), (86400, 7), (30, 1)]
    refused = [(60, 1441), (1800, 49), (3600, 169), (86400, 8), (45, 1), (90, 1), (0, 1)]
    assert [alarm_window_problem(*a) for a in accepted] == [None] * len(accepted)
    assert all(alarm_window_problem(*r) for r in refused)


@pytest.mark.parametrize("name", PLANS)
def test_an_age_alarm_on_a_queue_can_fire_before_the_queue_drops_the_message(name):
    """A message nobody reads is deleted after the queue's retention: an alarm on the age of the oldest
    message must see it above the threshold for all its periods before then, or it can never fire."""
    plan = plan_of(name)
    retention = {
        q.inputs["name"]: q.inputs.get("messageRetentionSeconds", 345_600) for q in plan.of_type("aws:sqs/queue:Queue")
    }
    ages = [
        a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricName") == "ApproximateAgeOfOldestMessage"
    ]
    assert ages
    for alarm in ages:
        queue = alarm["dimensions"]["QueueName"]
        seen_by = alarm["threshold"] + alarm["evaluationPeriods"] * alarm["period"]
        assert seen_by <= retention[queue], (
            f"{alarm['name']}: fires after {seen_by} s, {queue} keeps messages {retention[queue]} s"
        )
