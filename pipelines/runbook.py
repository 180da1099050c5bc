"""The documented procedures (docs/deploying.md) as data, and the checks that they work: every step
says where it runs and as whom; what it needs must exist before it; the place that runs a project
must reach what the project manages; the credentials must be ones the Pulumi CLI can use.

Places and what they reach (pipelines/semantics/reach.py has the EKS rules):
- ``laptop``: an engineer's machine on the internet. Reaches AWS's public APIs; reaches a cluster API
  only through a public endpoint whose CIDRs hold its address.
- ``ci-runner``: the stack's CodeBuild-hosted GitHub Actions runner in the VPC's private subnets
  (components/ci_runner.py). Reaches AWS through NAT and the cluster API through the private
  endpoint, where the cluster security group admits the runner's group on 443. It exists only once
  the platform project made it, GitHub can start it (connection authorized, repository configured),
  and it acts as the stack's ci-deploy role.
- ``console`` and ``github``: the AWS console and the repository settings, in a browser.
- ``editor``: editing files of the checkout.

A step's ``runs`` come from its commands (``pulumi up``/``preview``/``destroy`` in a project's
directory) or, for ``ci-runner`` steps, from the workflow job it starts (its pulumi/actions steps).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from pipelines.plan import Plan
from pipelines.semantics import credentials
from pipelines.semantics.reach import Endpoint, Ingress, Place, reaches

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = "docs/deploying.md"
# The address the procedures' engineer works from: a public address (documentation ranges are refused
# by training.publicAccessCidrs), standing for "your office or VPN range".
LAPTOP_ADDRESS = "85.10.20.30"
ADMIN_ROLE = "ml-platform-admins"  # bootstrap/account.py ADMIN_ROLE
PROJECT_DIRS = {".": "mlplatform", "cluster": "mlplatform-cluster", "bootstrap": "mlplatform-bootstrap"}
# What the in-cluster project's software needs from the platform project while it is created and
# while it is deleted: nodes and DNS for the charts' pods (they wait for readiness), Karpenter's and
# Alertmanager's identities, the node role's access entry (Karpenter terminates nodes and deletes
# instance profiles before its finalizers let a NodePool or EC2NodeClass go).
IN_CLUSTER_NEEDS = frozenset(
    {
        "system-nodes",
        "addon:coredns",
        "pod-identity:kube-system/karpenter",
        "pod-identity:monitoring/alertmanager",
        "access-entry:EC2_LINUX",
        "queue:karpenter",
    }
)


@dataclass(frozen=True)
class Step:
    id: str
    where: str  # laptop, ci-runner, console, github, editor
    title: str
    as_: str | None = None  # account-admin, platform-admin, ci-deploy
    commands: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    gives: frozenset[str] = frozenset()
    # A documented change to the stack's settings (dotted paths), planned from this step on.
    settings: Mapping[str, Any] = field(default_factory=dict)
    # ci-runner steps: the workflow file whose job for the stack this step starts.
    workflow: str | None = None

    def render(self, stack: str) -> Step:
        """The step for ``stack``: ``{stack}`` in its commands, needs and gives filled in."""
        fill = lambda text: text.replace("{stack}", stack)  # noqa: E731
        return dataclasses.replace(
            self,
            title=fill(self.title),
            commands=tuple(fill(c) for c in self.commands),
            needs=frozenset(fill(n) for n in self.needs),
            gives=frozenset(fill(g) for g in self.gives),
        )


def _commands(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines())


# ``{stack}`` is the stack (docs/deploying.md shows dev; staging and prod repeat it with theirs).
FIRST_RUN = (
    Step(
        "bootstrap",
        "laptop",
        "Bootstrap the account (an administrator of the account)",
        as_="account-admin",
        commands=_commands("""
            eval "$(aws configure export-credentials --profile {stack}-account-admin --format env)"
            unset AWS_PROFILE
            cd bootstrap
            pulumi login file://~/.pulumi-bootstrap
            pulumi stack init {stack}
            pulumi up --stack {stack}
            pulumi stack output --stack {stack}
            cd ..
        """),
    ),
    Step(
        "authorize-connection",
        "console",
        "Authorize the GitHub connection (Developer Tools > Connections > Update pending connection)",
        needs=frozenset({"connection-pending"}),
        gives=frozenset({"connection-available"}),
    ),
    Step(
        "configure",
        "editor",
        "Name the bootstrap's outputs in stacks/Pulumi.{stack}.yaml",
        needs=frozenset({"github-oidc", "connection-pending", f"role:{ADMIN_ROLE}"}),
        gives=frozenset({"stack-configured"}),
    ),
    Step(
        "stacks",
        "laptop",
        "Create the two stacks in the state bucket (as ml-platform-admins)",
        as_="platform-admin",
        commands=_commands("""
            backend=$(cd bootstrap && pulumi stack output backendUrl --stack {stack})
            secrets=$(cd bootstrap && pulumi stack output secretsProvider --stack {stack})
            eval "$(aws configure export-credentials --profile ml-{stack}-admin --format env)"
            unset AWS_PROFILE
            pulumi login "$backend"
            pulumi stack init {stack} --secrets-provider "$secrets"
            cd cluster
            pulumi stack init {stack} --secrets-provider "$secrets"
            cd ..
        """),
        needs=frozenset({"state-bucket", "secrets-key", f"role:{ADMIN_ROLE}", "stack-configured"}),
        gives=frozenset({"stack:mlplatform", "stack:mlplatform-cluster"}),
    ),
    Step(
        "platform",
        "laptop",
        "Deploy the platform project (as ml-platform-admins)",
        as_="platform-admin",
        commands=_commands("""
            .venv/bin/mlplatform preflight {stack}
            .venv/bin/mlplatform check {stack}
            pulumi preview --stack {stack} --policy-pack infra/policies
            pulumi up --stack {stack} --policy-pack infra/policies
        """),
        needs=frozenset({"stack:mlplatform", "stack-configured", "connection-available"}),
    ),
    Step(
        "github",
        "github",
        "Configure the repository: variables, environments, branch protection",
        needs=frozenset({"role:mlplatform-{stack}-ci-deploy", "role:mlplatform-{stack}-ci-preview", "ci-runner"}),
        gives=frozenset({"github-configured"}),
    ),
    Step(
        "in-cluster",
        "ci-runner",
        "Deploy the in-cluster project from the stack's runner in the VPC",
        as_="ci-deploy",
        commands=_commands("""
            gh workflow run deploy.yml --ref main -f stack={stack}
        """),
        needs=frozenset({"stack:mlplatform-cluster", "github-configured"}),
        workflow="deploy.yml",
    ),
)

# dev only (settings refuse a public endpoint elsewhere): after the first run, from a laptop.
OPEN_DEV_ENDPOINT = Step(
    "open-endpoint",
    "laptop",
    "Open dev's cluster endpoint to your address (as ml-platform-admins)",
    as_="platform-admin",
    commands=_commands("""
        eval "$(aws configure export-credentials --profile ml-{stack}-admin --format env)"
        unset AWS_PROFILE
        pulumi up --stack {stack} --policy-pack infra/policies
    """),
    settings={"training.endpointPublicAccess": True, "training.publicAccessCidrs": [f"{LAPTOP_ADDRESS}/32"]},
)
LAPTOP_RUNS = (
    OPEN_DEV_ENDPOINT,
    Step(
        "in-cluster-from-laptop",
        "laptop",
        "Apply the in-cluster project of dev from your laptop",
        as_="platform-admin",
        commands=_commands("""
            cd cluster
            pulumi preview --stack {stack} --policy-pack ../infra/policies
            pulumi up --stack {stack} --policy-pack ../infra/policies
            cd ..
        """),
    ),
)
TEARDOWN = (
    OPEN_DEV_ENDPOINT,
    Step(
        "destroy-in-cluster",
        "laptop",
        "Destroy the in-cluster project first, while the cluster and Karpenter's roles exist",
        as_="platform-admin",
        commands=_commands("""
            cd cluster
            pulumi destroy --stack {stack}
            cd ..
        """),
    ),
    Step(
        "destroy-platform",
        "laptop",
        "Destroy the platform project",
        as_="platform-admin",
        commands=_commands("""
            pulumi destroy --stack {stack}
        """),
    ),
)
PROCEDURES = {"first run": FIRST_RUN, "later runs from a laptop": LAPTOP_RUNS, "teardown": TEARDOWN}
# Procedures that run after another (the state they start from).
STARTS_AFTER = {"later runs from a laptop": "first run", "teardown": "first run"}


def doc_profiles(stack: str = "dev", account: str = "111111111111") -> dict[str, dict[str, str]]:
    """The shared-config profiles docs/deploying.md defines ("Credentials"), for a stack."""
    return {
        f"{stack}-account-admin": {
            "sso_session": "my-company",
            "sso_account_id": account,
            "sso_role_name": "AdministratorAccess",
            "region": "eu-west-1",
        },
        "platform-admin": {
            "sso_session": "my-company",
            "sso_account_id": account,
            "sso_role_name": "PlatformEngineer",
            "region": "eu-west-1",
        },
        f"ml-{stack}-admin": {
            "role_arn": f"arn:aws:iam::{account}:role/{ADMIN_ROLE}",
            "source_profile": "platform-admin",
            "mfa_serial": f"arn:aws:iam::{account}:mfa/platform-admin",
            "duration_seconds": "3600",
            "region": "eu-west-1",
        },
    }


# --- what a project's resources make possible ----------------------------------------------------


def capabilities(plan: Plan, project: str) -> set[str]:
    """What exists once ``project`` of ``plan`` is deployed, in the words steps need."""
    caps: set[str] = set()
    for r in plan.of_project(project):
        i, t = r.inputs, r.type
        if t.startswith("kubernetes:") and r.custom and not t.startswith("kubernetes:helm"):
            caps.add("in-cluster")
        elif t == "aws:s3/bucket:Bucket" and "pulumi-state" in str(i.get("bucket")):
            caps.add("state-bucket")
        elif t == "aws:kms/alias:Alias" and "pulumi-secrets" in str(i.get("name")):
            caps.add("secrets-key")
        elif t == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            caps.add("github-oidc")
        elif t == "aws:codestarconnections/connection:Connection":
            caps.add("connection-pending")
        elif t == "aws:iam/role:Role":
            caps.add(f"role:{i.get('name')}")
        elif t == "aws:eks/cluster:Cluster":
            caps.add("cluster")
        elif t == "aws:eks/nodeGroup:NodeGroup":
            caps.add("system-nodes")
        elif t == "aws:eks/addon:Addon":
            caps.add(f"addon:{i.get('addonName')}")
        elif t == "aws:eks/accessEntry:AccessEntry" and i.get("type") == "EC2_LINUX":
            caps.add("access-entry:EC2_LINUX")
        elif t == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation":
            if str(i.get("policyArn", "")).endswith("/AmazonEKSClusterAdminPolicy"):
                caps.add(f"cluster-admin:{str(i.get('principalArn')).rsplit('/', 1)[-1]}")
        elif t == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            caps.add(f"pod-identity:{i.get('namespace')}/{i.get('serviceAccount')}")
        elif t == "aws:sqs/queue:Queue" and str(i.get("name", "")).endswith("-karpenter"):
            caps.add("queue:karpenter")
        elif t == "aws:codebuild/project:Project":
            caps.add("ci-runner")
    return caps


def endpoint_of(plan: Plan) -> Endpoint | None:
    """The cluster API's access: the cluster's vpcConfig and its security group's ingress rules."""
    clusters = plan.of_type("aws:eks/cluster:Cluster")
    if not clusters:
        return None
    (cluster,) = clusters
    vpc, group = cluster.inputs["vpcConfig"], cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    rules = tuple(
        Ingress(
            int(r.inputs["fromPort"]),
            int(r.inputs["toPort"]),
            source_group=r.inputs.get("referencedSecurityGroupId"),
            cidr=r.inputs.get("cidrIpv4"),
        )
        for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("securityGroupId") == group and r.inputs.get("ipProtocol") in ("tcp", "-1")
    )
    return Endpoint(
        public=bool(vpc.get("endpointPublicAccess", True)),
        private=bool(vpc.get("endpointPrivateAccess", False)),
        public_cidrs=tuple(vpc.get("publicAccessCidrs") or ()),
        ingress=rules,
    )


def place_of(where: str, plan: Plan) -> Place:
    if where == "ci-runner":
        groups = frozenset(
            r.id
            for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")
            if str(r.inputs.get("name")).endswith("-ci-runner")
        )
        nat = tuple(r.outputs.get("publicIp", "") for r in plan.of_type("aws:ec2/eip:Eip"))
        return Place("ci-runner", in_vpc=True, public_ips=nat, security_groups=groups)
    return Place(where, in_vpc=False, public_ips=(LAPTOP_ADDRESS,) if where == "laptop" else ())


# --- the checks ----------------------------------------------------------------------------------


@dataclass
class Walk:
    """The state a procedure leaves: what exists, which projects are deployed, the settings changes."""

    have: set[str] = field(default_factory=set)
    deployed: dict[str, Plan] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def runs_of(step: Step, stack: str, root: Path = REPO_ROOT) -> list[tuple[str, str]]:
    """(project, operation) for each pulumi up/preview/destroy the step performs."""
    if step.workflow:
        return workflow_runs(root / ".github" / "workflows" / step.workflow, stack)
    found, cwd = [], PurePosixPath(".")
    for line in step.commands:
        words = shlex.split(line.split(" #", 1)[0])
        if words[:1] == ["cd"]:
            cwd = PurePosixPath(str(cwd / words[1])) if words[1] != ".." else cwd.parent
            continue
        if words[:1] == ["pulumi"] and len(words) > 1 and words[1] in ("up", "preview", "destroy", "refresh"):
            directory = str(cwd) if "-C" not in words else words[words.index("-C") + 1]
            found.append((PROJECT_DIRS[directory], words[1]))
    return found


def workflow_runs(path: Path, stack: str, called_with: str | None = None) -> list[tuple[str, str]]:
    """The pulumi/actions steps of the workflow's job(s) for ``stack``, following the calls of local
    reusable workflows (whose stack is their ``inputs.stack``): (project, command)."""
    workflow = yaml.safe_load(path.read_text())
    runs = []
    for job in workflow["jobs"].values():
        uses = job.get("uses", "")
        if uses.startswith("./.github/workflows/") and job.get("with", {}).get("stack") == stack:
            runs += workflow_runs(path.parents[2] / uses.removeprefix("./"), stack, called_with=stack)
            continue
        for s in job.get("steps", []):
            w = s.get("with", {})
            named = w.get("stack-name")
            if (
                s.get("uses", "").startswith("pulumi/actions@")
                and "command" in w
                and (named == stack or (called_with == stack and named == "${{ inputs.stack }}"))
            ):
                runs.append((PROJECT_DIRS[w.get("work-dir", ".").rstrip("/") or "."], w["command"]))
    return runs


def walk(
    steps: Iterable[Step],
    stack: str,
    plan_for: Callable[[Mapping[str, Any]], Plan],
    bootstrap: Plan,
    start: Walk | None = None,
) -> tuple[Walk, list[str]]:
    """Follow a procedure for a stack; return the state it leaves and every problem found."""
    state = start or Walk()
    problems: list[str] = []
    for step in (s.render(stack) for s in steps):
        missing = step.needs - state.have
        if missing:
            problems.append(f"{step.id}: needs {', '.join(sorted(missing))}, which no earlier step gives")
        state.settings.update(step.settings)
        problems += _credentials(step, state, doc_profiles(stack))
        for project, operation in runs_of(step, stack):
            plan = bootstrap if project == "mlplatform-bootstrap" else plan_for(state.settings)
            if operation in ("up", "preview"):
                problems += _reach(step, project, plan, state)
                if project == "mlplatform-cluster":
                    short = IN_CLUSTER_NEEDS - state.have
                    if short:
                        problems.append(f"{step.id}: the in-cluster software needs {', '.join(sorted(short))} first")
                if operation == "up":
                    state.have |= capabilities(plan, project)
                    state.deployed[project] = plan
            elif operation == "destroy":
                deployed = state.deployed.get(project)
                if deployed is None:
                    continue
                problems += _reach(step, project, deployed, state)
                readers = [p for p in state.deployed if READS.get(p) == project]
                if readers:
                    problems.append(f"{step.id}: destroys {project} while {', '.join(readers)} still reads it")
                if project == "mlplatform-cluster":
                    short = IN_CLUSTER_NEEDS - state.have
                    if short:
                        problems.append(f"{step.id}: Karpenter's finalizers need {', '.join(sorted(short))}")
                state.have -= capabilities(deployed, project)
                del state.deployed[project]
        state.have |= step.gives
    return state, problems


# Which project reads which through a StackReference: it must be destroyed first.
READS = {"mlplatform-cluster": "mlplatform"}


def _reach(step: Step, project: str, plan: Plan, state: Walk) -> list[str]:
    """A project with Kubernetes resources needs the cluster API from where the step runs."""
    if not any(r.type.startswith("kubernetes:") and r.custom for r in plan.of_project(project)):
        return []
    # The endpoint and the runner are the platform's, as deployed now.
    platform = state.deployed.get("mlplatform", plan)
    endpoint = endpoint_of(platform)
    place = place_of(step.where, platform)
    problems = []
    if endpoint is None:
        problems.append(f"{step.id}: {project} manages Kubernetes resources, but the stack has no cluster")
    elif not reaches(place, endpoint):
        access = f"public: {endpoint.public}, CIDRs: {list(endpoint.public_cidrs)}, private: {endpoint.private}"
        problems.append(
            f"{step.id}: {project} manages Kubernetes resources, and {step.where} does not reach the cluster API "
            f"({access})"
        )
    who = {"platform-admin": ADMIN_ROLE, "ci-deploy": f"mlplatform-{plan.stack}-ci-deploy"}.get(step.as_ or "", "")
    if f"cluster-admin:{who}" not in state.have:
        problems.append(f"{step.id}: {step.as_} has no access entry to the cluster API when it runs")
    if step.where == "ci-runner":
        short = {"ci-runner", "connection-available", "github-configured"} - state.have
        if short:
            problems.append(f"{step.id}: the CI runner cannot start yet: {', '.join(sorted(short))} missing")
    return problems


def _credentials(step: Step, state: Walk, profiles: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Every pulumi command of the step must find credentials the Go SDK can use without a prompt."""
    problems = []
    lines = [c for c in step.commands if not c.startswith(("backend=", "secrets="))]
    commands, state.env = credentials.follow(lines, state.env)
    for line, env in commands:
        if not credentials.needs_aws(line):
            continue
        for who, as_provider in (("the state backend", False), ("the AWS provider", True)):
            found = credentials.resolve(env, profiles, provider=as_provider)
            if not found.ok:
                problems.append(f"{step.id}: `{line}`: {who} gets no credentials: {found.error}")
    return problems


def documented_commands(text: str) -> list[str]:
    """Every command line of the ``console`` blocks of a Markdown page, without its ``$ `` prompt."""
    lines: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        continued = False
        for raw in block.splitlines():
            line = raw.strip()
            if continued:  # a command continued with a backslash
                lines[-1] = lines[-1].removesuffix("\\").rstrip() + " " + line
            elif line.startswith("$ "):
                lines.append(line[2:].strip())
            continued = bool(lines) and line.endswith("\\") and (continued or line.startswith("$ "))
    return lines
