"""Domain mutants: plausible one-line mistakes in the platform's own code, each with the tests that
must catch it for the right reason. `make mutation` applies each to a copy of the repository, runs
those tests, and counts the mutant killed when they fail.

The first twelve are the mistakes of issue 18 that once passed a green CI; the rest are the edits a
reviewer fears most in each component. A mutant whose ``old`` text is no longer found is an error:
rewrite it against the current code rather than dropping it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    why: str
    tests: tuple[str, ...]


GUARD = "tests/pipelines/test_guard_decisions.py"
RULES = "tests/policies/test_rule_checks.py"
INVARIANTS = "tests/access/test_access_matrix.py::test_only_the_intended_roles_can"
CLUSTER = "tests/components/test_training_cluster.py"
SERVING = "tests/components/test_serving.py"
SERVING_ACCESS = "tests/access/test_serving_and_quality_access.py"
COST = "tests/pipelines/test_cost.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "matrix-training-writes-raw",
        "infra/access.py",
        '    Cell("training", "lake:curated", "read", why="train on validated datasets"),\n',
        '    Cell("training", "lake:curated", "read", why="train on validated datasets"),\n'
        '    Cell("training", "lake:raw", "write", why="mutant"),\n',
        "the access matrix lets training roles write the raw zone",
        (INVARIANTS,),
    ),
    Mutant(
        "guard-delete-not-destructive",
        "pipelines/guard.py",
        'DESTRUCTIVE_OPS = {"delete", "replace",',
        'DESTRUCTIVE_OPS = {"replace",',
        "the promotion guard no longer treats delete of a stateful resource as destructive",
        (GUARD,),
    ),
    Mutant(
        "diff-forgets-protected-removals",
        "pipelines/diff.py",
        "removed=sorted((before[u].type, before[u].name, before[u].protected)",
        "removed=sorted((before[u].type, before[u].name, False)",
        "the pull-request comment stops flagging removals of protected resources",
        (GUARD,),
    ),
    Mutant(
        "rule-oidc-wildcard-sub",
        "infra/policies/identity.py",
        'if any(c in str(sub).replace(PULL_REQUEST_REF, "") for c in "*?"):',
        "if False:",
        "iam-oidc-trust-conditions loses its wildcard-sub check",
        (RULES,),
    ),
    Mutant(
        "rule-default-deny-egress",
        "infra/policies/compute.py",
        '        and set(spec.get("policyTypes", [])) == {"Ingress", "Egress"}\n',
        "",
        "k8s-namespace-guardrails accepts a 'default deny' that leaves egress open",
        (RULES,),
    ),
    Mutant(
        "netpol-admits-every-namespace",
        "components/cluster_addons.py",
        '"ingress": [{"from": [{"podSelector": {}}]}],',
        '"ingress": [{"from": [{"namespaceSelector": {}}]}],',
        "a team's NetworkPolicy admits every namespace instead of its own",
        ("tests/upstream/test_reachability.py",),
    ),
    Mutant(
        "gpu-pools-never-consolidate",
        "components/cluster_addons.py",
        'GPU_CONSOLIDATE_AFTER = "5m"',
        'GPU_CONSOLIDATE_AFTER = "Never"',
        "GPU pools never scale to zero (consolidateAfter: Never)",
        (f"{CLUSTER}::test_gpu_pools_are_tainted_capped_scale_to_zero_and_leave_training_alone",),
    ),
    Mutant(
        "promql-phase-lowercase",
        "components/cluster_observability.py",
        'kube_pod_status_phase{phase="Pending"}',
        'kube_pod_status_phase{phase="pending"}',
        "a PromQL label value typo: the pending-GPU-pod alert can never fire",
        ("tests/upstream/test_scheduling.py::test_gpu_alerts_and_dashboard_read_the_labels_the_exporter_really_keeps",),
    ),
    Mutant(
        "alertmanager-root-to-null",
        "components/cluster_observability.py",
        '"receiver": "platform-alerts",\n                    "group_by"',
        '"receiver": "null",\n                    "group_by"',
        "Alertmanager's root route sends every alert to the null receiver",
        ("tests/upstream/test_scheduling.py::test_every_gpu_alert_reaches_a_receiver_that_notifies",),
    ),
    Mutant(
        "dqdl-drops-a-rule",
        "components/data_quality.py",
        "rules += [f'IsComplete \"{c}\"' for c in self.complete]",
        "rules += [f'IsComplete \"{c}\"' for c in self.complete[1:]]",
        "a dataset rule is dropped from the generated DQDL",
        ("tests/components/test_data_quality.py",),
    ),
    Mutant(
        "trust-without-source-arn",
        "components/network.py",
        '                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{args.region}:{args.account_id}'
        ':vpc-flow-log/*"},\n',
        "",
        "a service role's trust loses its confused-deputy aws:SourceArn condition",
        ("tests/components/test_identity.py::test_every_service_trust_names_its_source",),
    ),
    Mutant(
        "karpenter-tags-any-instance",
        "foundation/upstream/karpenter.py",
        '"Action": "ec2:CreateTags",\n        "Condition": {\n            "StringEquals": {\n'
        '                "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"\n            },\n',
        '"Action": "ec2:CreateTags",\n        "Condition": {\n',
        "Karpenter's instance-tagging statement loses its ResourceTag condition (it could claim any instance)",
        (f"{CLUSTER}::test_our_copy_of_karpenters_policy_is_upstreams",),
    ),
    # --- more of what a reviewer fears -------------------------------------------------------------
    Mutant(
        "stateful-not-retained",
        "foundation/conventions.py",
        "protect=protect, retain_on_delete=protect,",
        "protect=protect, retain_on_delete=False,",
        "stateful resources are deleted with their stack in staging and prod",
        ("tests/stacks/test_stacks.py", "tests/policies/test_rules.py"),
    ),
    Mutant(
        "kms-no-rotation",
        "components/encryption.py",
        "enable_key_rotation=True,",
        "enable_key_rotation=False,",
        "customer keys stop rotating",
        ("tests/components/test_encryption.py",),
    ),
    Mutant(
        "s3-public-policies-allowed",
        "components/storage.py",
        "restrict_public_buckets=True,",
        "restrict_public_buckets=False,",
        "buckets no longer restrict public bucket policies",
        ("tests/components/test_storage.py",),
    ),
    Mutant(
        "s3-plain-http",
        "components/storage.py",
        'conditions={"Bool": {"aws:SecureTransport": "false"}},',
        'conditions={"Bool": {"aws:SecureTransport": "true"}},',
        "bucket policies deny TLS requests instead of plain HTTP",
        ("tests/components/test_storage.py",),
    ),
    Mutant(
        "imds-reachable-from-pods",
        "components/training_cluster.py",
        "http_put_response_hop_limit=1",
        "http_put_response_hop_limit=2",
        "pods on system nodes can reach the node's instance metadata (and its role)",
        (f"{CLUSTER}::test_system_nodes_use_imdsv2_hop_1_and_encrypted_volumes",),
    ),
    Mutant(
        "creator-is-cluster-admin",
        "components/training_cluster.py",
        "bootstrap_cluster_creator_admin_permissions=False",
        "bootstrap_cluster_creator_admin_permissions=True",
        "whoever ran `pulumi up` silently becomes cluster admin",
        (f"{CLUSTER}::test_cluster_is_private_encrypted_logged_and_api_authenticated",),
    ),
    Mutant(
        "pod-role-any-namespace",
        "foundation/iam/trust.py",
        '        tags["aws:RequestTag/kubernetes-namespace"] = namespace\n',
        "        pass\n",
        "a team's role can be assumed from any namespace of the cluster",
        ("tests/components/test_identity.py::test_pod_roles_trust_only_eks_pod_identity_of_this_environments_cluster",),
    ),
    Mutant(
        "gpu-pools-untainted",
        "components/cluster_addons.py",
        '"taints": [dict(GPU_TAINT)],',
        '"taints": [],',
        "CPU pods land on (and keep alive) expensive GPU nodes",
        (f"{CLUSTER}::test_gpu_pools_are_tainted_capped_scale_to_zero_and_leave_training_alone",),
    ),
    Mutant(
        "team-quota-ignored",
        "components/cluster_addons.py",
        '"requests.nvidia.com/gpu": str(team.gpu_quota),',
        '"requests.nvidia.com/gpu": str(team.gpu_quota * 2),',
        "a team may request twice the GPUs its quota grants",
        (f"{CLUSTER}::test_every_team_namespace_is_fenced_and_bound_to_its_role",),
    ),
    Mutant(
        "ci-may-escalate",
        "foundation/iam/boundaries.py",
        '            sid="NoSelfEscalation",\n            effect="Deny",',
        '            sid="NoSelfEscalation",\n            effect="Allow",',
        "the deploy role's boundary no longer stops it rewriting its own permissions",
        (
            "tests/upstream/test_effective_permissions.py::test_the_deploy_role_manages_workload_roles_but_never_the_ci_roles",
        ),
    ),
    Mutant(
        "karpenter-two-replicas-on-one-node",
        "components/cluster_addons.py",
        '"replicas": max(1, min(2, args.system_nodes)),',
        '"replicas": 2,',
        "Karpenter asks for two replicas where one system node can hold only one (anti-affinity)",
        ("tests/upstream/test_scheduling.py::test_karpenter_runs_on_system_nodes_one_replica_per_node",),
    ),
    Mutant(
        "mutable-image-tags",
        "components/model_registry.py",
        'image_tag_mutability="IMMUTABLE",',
        'image_tag_mutability="MUTABLE",',
        "a released image tag can be overwritten",
        ("tests/components/test_model_registry.py",),
    ),
    Mutant(
        "logs-kept-forever",
        "components/monitoring.py",
        "retention_in_days=args.log_retention_days,",
        "retention_in_days=None,",
        "platform log groups never expire",
        ("tests/components/test_monitoring.py",),
    ),
    # Serving and data quality (issue 15): the access, rollback and approval mistakes that matter.
    Mutant(
        "matrix-serving-reads-every-model",
        "infra/access.py",
        'Cell("serving", "served-models", "read", "models/{family}/",',
        'Cell("serving", "served-models", "read", "models/",',
        "an endpoint's role can read every family's model artifacts",
        (SERVING_ACCESS,),
    ),
    Mutant(
        "matrix-glue-reads-whole-zone",
        "infra/access.py",
        'Cell("data-quality", "lake:{zone}", "read", "{prefix}",',
        'Cell("data-quality", "lake:{zone}", "read", "",',
        "a dataset's Glue role can read its whole zone",
        (SERVING_ACCESS,),
    ),
    Mutant(
        "endpoint-rolls-back-on-errors-only",
        "components/serving.py",
        "for key in rollback_alarm_keys(e.name)\n",
        "for key in rollback_alarm_keys(e.name)[:1]\n",
        "a deployment no longer rolls back when latency degrades",
        (SERVING,),
    ),
    Mutant(
        "latency-alarm-in-milliseconds",
        "components/serving.py",
        "threshold=e.max_latency_ms * facts.LATENCY_UNIT_PER_MS,",
        "threshold=e.max_latency_ms,",
        "the latency alarm compares microseconds with milliseconds and fires on every request",
        (SERVING,),
    ),
    Mutant(
        "drift-pages-before-the-first-run",
        "components/serving.py",
        'missing="missing",',
        'missing="breaching",',
        "drift alarms page before Model Monitor has ever reported",
        (SERVING,),
    ),
    Mutant(
        "low-score-at-the-minimum",
        "components/data_quality.py",
        '"score": [{"numeric": ["<", min_score]}]',
        '"score": [{"numeric": ["<=", min_score]}]',
        "an evaluation scoring exactly the dataset's minimum alarms",
        ("tests/components/test_data_quality.py",),
    ),
    Mutant(
        "scheduler-passes-any-role",
        "components/data_quality.py",
        "resources=[args.glue_role_arns[d] for d in rulesets],",
        'resources=["*"],',
        "the scheduler's role may pass any role to Glue",
        ("tests/components/test_data_quality.py",),
    ),
    Mutant(
        "promote-accepts-pending-models",
        "pipelines/promotion.py",
        'if status != "Approved":',
        'if status == "Rejected":',
        "promotion moves a version that is still pending approval",
        ("tests/pipelines/test_promotion.py",),
    ),
    # Cost (issue 16): the arithmetic mistakes that would mislead a budget decision.
    Mutant(
        "cost-spot-on-every-pool",
        "infra/cost.py",
        'spot = on_demand * (1 - t.spot_discount) if "spot" in capacity else on_demand',
        "spot = on_demand * (1 - t.spot_discount)",
        "an on-demand-only pool is priced at spot in the spot ceiling",
        (COST,),
    ),
    Mutant(
        "cost-idle-at-max",
        "infra/cost.py",
        "idle=per_node * desired,",
        "idle=per_node * most,",
        "system nodes are priced at their maximum while idle",
        (COST,),
    ),
    Mutant(
        "cost-cheapest-gpu-ceiling",
        "infra/cost.py",
        "dearest = max(unit_prices)",
        "dearest = min(unit_prices)",
        "the GPU ceiling uses the cheapest GPU, understating the worst case",
        (COST,),
    ),
    Mutant(
        "cost-unknown-type-is-free",
        "infra/cost.py",
        'self.unpriced(r, f"no price rule for {r.type}")',
        "pass",
        "a resource type with no price rule silently costs nothing",
        (COST,),
    ),
    Mutant(
        "cost-endpoints-per-hour-not-month",
        "infra/cost.py",
        "idle=price * self.hours * count,",
        "idle=price * count,",
        "serving endpoints are priced per hour instead of per month",
        (COST,),
    ),
    # Issue 23: the first run and the last destroy.
    Mutant(
        "namespaces-outlive-the-operator",
        "components/cluster_addons.py",
        "pulumi.ResourceOptions(depends_on=[operator] if operator else None)",
        "pulumi.ResourceOptions()",
        "team namespaces may be deleted after KubeRay: RayJobs keep their finalizer and the destroy hangs",
        ("tests/upstream/test_runbook.py::test_what_carries_a_controllers_finalizer_goes_before_the_controller",),
    ),
    Mutant(
        "state-bucket-denies-writes-without-headers",
        "components/storage.py",
        'conditions={"StringNotEquals": {SSE: "aws:kms"}, "Null": {SSE: "false"}},',
        'conditions={"StringNotEqualsIfExists": {SSE: "aws:kms"}},',
        "a write without encryption headers (the Pulumi backend, boto3 defaults) is denied",
        (
            "tests/bootstrap/test_bootstrap.py::test_the_pulumi_backend_reads_and_writes_its_state_and_nothing_else_gets_in",
        ),
    ),
    Mutant(
        "staging-may-open-its-api",
        "infra/settings.py",
        '            if env != "dev":\n                problems.append(\n',
        '            if env == "prod":\n                problems.append(\n',
        "staging accepts a public cluster endpoint",
        ("tests/upstream/test_runbook.py::test_the_laptop_path_is_refused_outside_dev",),
    ),
    Mutant(
        "nodepools-delete-in-ten-minutes",
        "components/cluster_addons.py",
        'custom_timeouts=pulumi.CustomTimeouts(delete="30m")',
        "custom_timeouts=None",
        "a NodePool's delete times out while its GPU nodes drain",
        (
            "tests/upstream/test_ordering_and_teardown.py::test_karpenter_aws_side_is_the_platforms_and_spot_capacity_has_its_account_role",
        ),
    ),
    # Issue 24: real requests against the resource policies.
    Mutant(
        "bucket-accepts-kms-without-a-key",
        "components/storage.py",
        'conditions={"StringEquals": {SSE: "aws:kms"}, "Null": {SSE_KEY: "true"}},',
        'conditions={"StringEquals": {SSE: "aws:kms:dsse"}, "Null": {SSE_KEY: "true"}},',
        "a write naming aws:kms without a key is accepted: S3 encrypts it with aws/s3, not the bucket's key",
        ("tests/access/test_requests.py::test_every_guarded_bucket_refuses_the_wrong_requests",),
    ),
    Mutant(
        "key-check-only-when-absent",
        "components/storage.py",
        'conditions={"StringNotEquals": {SSE_KEY: key_names}, "Null": {SSE_KEY: "false"}},',
        'conditions={"StringNotEqualsIfExists": {SSE_KEY: key_names}},',
        "the key-id Deny fires when the header is absent: every default write is refused",
        ("tests/access/test_requests.py::test_team_jobs_log_artifacts_and_checkpoints_with_default_clients",),
    ),
    Mutant(
        "alert-topic-refuses-eventbridge",
        "components/monitoring.py",
        'PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com")',
        'PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")',
        "EventBridge's data-quality alerts can no longer publish to the alert topic",
        ("tests/access/test_requests.py::test_services_deliver_to_the_platforms_topics_and_queues",),
    ),
    # --- issue 32: properties across the plan (hand-offs, boundaries, routes, promises) ------------
    Mutant(
        "schedules-role-trusts-glue",
        "components/scheduling.py",
        "                facts.SCHEDULER_PRINCIPAL,\n",
        '                "glue.amazonaws.com",\n',
        "the schedules' role trusts Glue instead of Scheduler: no scheduled run ever starts",
        ("tests/invariants/test_handoffs.py",),
    ),
    Mutant(
        "workload-boundary-any-environments-key",
        "foundation/iam/boundaries.py",
        '            actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],\n'
        "            resources=[scope.keys],\n"
        "            conditions=scope.this_environment,\n",
        '            actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],\n'
        "            resources=[scope.keys],\n",
        "the workload boundary's key statement loses its environment tag: another environment's keys decrypt",
        ("tests/invariants/test_boundaries.py",),
    ),
    Mutant(
        "nat-through-the-first-zone",
        "components/network.py",
        "nat_gateway_id=nat_ids[i if args.nat_per_zone else 0]",
        "nat_gateway_id=nat_ids[0]",
        "with per-az NAT every private subnet still leaves through the first zone's gateway",
        ("tests/invariants/test_network.py",),
    ),
    Mutant(
        "public-endpoint-without-private-access",
        "components/training_cluster.py",
        "endpoint_private_access=True,",
        "endpoint_private_access=not args.endpoint_public_access,",
        "opening dev's endpoint switches private access off: nodes and the runner go through the internet",
        ("tests/invariants/test_promises.py::test_every_variant_passes_the_policy_pack",),
    ),
    Mutant(
        "limit-range-default-cpu-limit",
        "components/cluster_addons.py",
        '"default": {"memory": "8Gi"},',
        '"default": {"memory": "8Gi", "cpu": "4"},',
        "team containers get a default CPU limit, which throttles training",
        ("tests/invariants/test_promises.py",),
    ),
    Mutant(
        "unpriced-endpoint-disappears",
        "infra/cost.py",
        '                self.unpriced(r, f"no price for {itype} in {self.region}")\n                continue\n',
        "                continue\n",
        "an endpoint whose instance type has no price vanishes from the cost report instead of being listed",
        ("tests/invariants/test_promises.py",),
    ),
    Mutant(
        "addon-role-any-service-account",
        "components/training_cluster.py",
        "pod_identity_statement(scope, ADDON_NAMESPACE, EBS_CSI_SERVICE_ACCOUNT)",
        "pod_identity_statement(scope)",
        "the EBS CSI driver's role is assumable by any service account of the cluster",
        ("tests/invariants/test_handoffs.py",),
    ),
    Mutant(
        "scheduler-passes-roles-to-any-service",
        "foundation/iam/boundaries.py",
        '            conditions={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},\n',
        "",
        "the scheduler boundary lets its role pass the data-quality roles to any service",
        ("tests/invariants/test_boundaries.py",),
    ),
    Mutant(
        "deploy-may-attach-no-policy",
        "foundation/iam/boundaries.py",
        '            conditions={"ArnNotLike": {"iam:PolicyARN": [*ALLOWED_MANAGED_POLICIES, scope.policies]}},\n',
        "",
        "the deploy boundary's managed-policy deny loses its exceptions: CI can attach no policy EKS needs",
        ("tests/invariants/test_boundaries.py",),
    ),
    Mutant(
        "offline-feature-writes-unpriced",
        "infra/cost.py",
        "self.usage(r, FEATURE_STORE_USAGE if online else FEATURE_STORE_USAGE[:1])",
        "self.usage(r, FEATURE_STORE_USAGE if online else ())",
        "an offline-only feature group's writes disappear from the cost report",
        ("tests/invariants/test_promises.py",),
    ),
    Mutant(
        "team-cpu-quota-from-gpus",
        "components/cluster_addons.py",
        '"requests.cpu": str(team.cpu_quota),',
        '"requests.cpu": str(team.gpu_quota),',
        "a team's CPU quota is set from its GPU quota",
        ("tests/invariants/test_promises.py",),
    ),
    Mutant(
        "trail-role-trusts-any-trail",
        "components/audit.py",
        'from_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}',
        "from_this_trail = {}",
        "the trail's delivery role trusts CloudTrail for any trail of any account",
        ("tests/invariants/test_handoffs.py",),
    ),
    Mutant(
        "ci-trust-drops-the-workflow",
        "foundation/iam/github.py",
        'return f"repo:{self.subject_repo}:{context}:ref:{ref}:job_workflow_ref:{job_workflow_ref}"',
        'return f"repo:{self.subject_repo}:{context}:ref:{ref}:*"',
        "the CI roles trust any workflow file of the branch or environment, not the one that deploys",
        ("tests/access/test_ci_trust.py::test_only_the_intended_workflow_jobs_assume_the_ci_roles",),
    ),
    Mutant(
        "preview-trusts-any-ref",
        "components/identity.py",
        'ref="refs/pull/*/merge",',
        'ref="*",',
        "the preview role is assumable from any branch's run in the preview environment",
        ("tests/access/test_ci_trust.py::test_only_the_intended_workflow_jobs_assume_the_ci_roles",),
    ),
    Mutant(
        "promotion-skips-unverifiable-checks",
        ".github/workflows/promote.yml",
        '--release "$RELEASE" --require-checks --report checks.md',
        '--release "$RELEASE" --report checks.md',
        "promotion opens a pull request even when a guard could not check the target stack",
        ("tests/pipelines/test_workflows.py",),
    ),
)


RULE_MODULES = ("storage", "identity", "compute", "observability", "ml", "stack")
RULE_TESTS = ("tests/policies/test_rule_checks.py",)


def rule_mutants(root: Path) -> list[Mutant]:
    """Each check of each policy rule switched off, one at a time (mutmut skips decorated functions):
    an ``if`` that yields a violation made ``False``; one operand of its ``or`` made ``False`` or of
    its ``and`` made ``True``; the same for the ``and`` of a helper that returns a verdict."""
    found: list[Mutant] = []
    for module in RULE_MODULES:
        file = f"infra/policies/{module}.py"
        source = (root / file).read_text()
        for fn in ast.parse(source).body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            segment = ast.get_source_segment(source, fn)
            offset = _offset(source, fn.lineno, fn.col_offset)
            for node, replacement, label in _switches(fn):
                start = _offset(source, node.lineno, node.col_offset) - offset
                end = _offset(source, node.end_lineno, node.end_col_offset) - offset
                found.append(
                    Mutant(
                        f"{module}.{fn.name}:{node.lineno}:{label}",
                        file,
                        segment,
                        segment[:start] + replacement + segment[end:],
                        f"{fn.name} line {node.lineno}: {label}",
                        RULE_TESTS,
                    )
                )
    return found


def _offset(source: str, line: int, col: int) -> int:
    """The string index of an ast position (ast columns count UTF-8 bytes)."""
    lines = source.splitlines(keepends=True)
    return sum(len(x) for x in lines[: line - 1]) + len(lines[line - 1].encode()[:col].decode())


def _yields(nodes) -> bool:
    return any(isinstance(n, ast.Yield) for stmt in nodes for n in ast.walk(stmt))


def _switches(fn: ast.FunctionDef):
    decorated = bool(fn.decorator_list)
    for node in ast.walk(fn):
        if decorated and isinstance(node, ast.If) and _yields(node.body):
            yield node.test, "False", "check off"
            if isinstance(node.test, ast.BoolOp):
                neutral = "False" if isinstance(node.test.op, ast.Or) else "True"
                for i, operand in enumerate(node.test.values):
                    yield operand, neutral, f"operand {i + 1} off"
        if not decorated and isinstance(node, ast.Return) and isinstance(node.value, ast.BoolOp):
            neutral = "False" if isinstance(node.value.op, ast.Or) else "True"
            for i, operand in enumerate(node.value.values):
                yield operand, neutral, f"operand {i + 1} off"
