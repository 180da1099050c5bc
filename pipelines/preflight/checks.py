"""The other checks: credentials, EKS versions and node image, the bootstrap's outputs, CI's OIDC
provider and connection, alerts and budget, and account-wide leftovers."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from foundation.upstream import account_reads as facts
from pipelines.preflight.account import Account, Context, PreflightError, ReadError

# --- credentials -----------------------------------------------------------------------------------


def check_caller(ctx: Context, account: Account) -> None:
    """The credentials work and are the stack's account's; anything else stops preflight."""
    try:
        me = account.call("sts.GetCallerIdentity")
    except ReadError as err:
        raise PreflightError(f"could not read the caller's identity: {err}") from err
    if me["Account"] != ctx.settings.account_id:
        raise PreflightError(
            f"the AWS credentials are for account {me['Account']} ({me['Arn']}); stack '{ctx.stack}' deploys to "
            f"{ctx.settings.account_id} (accountId in stacks/Pulumi.{ctx.stack}.yaml): export the stack's credentials"
        )
    ctx.add("credentials", me["Arn"], "ok", f"account {me['Account']}, the stack's accountId")


# --- EKS: versions, add-ons, node image --------------------------------------------------------------


def check_eks(ctx: Context, account: Account, addons: tuple[str, ...]) -> None:
    version = ctx.settings.training.kubernetes_version
    check = "kubernetes-version"
    try:
        answer = account.call("eks.DescribeClusterVersions", clusterVersions=[version], includeAll=True)
        found = [v for v in answer.get("clusterVersions", []) if v.get("clusterVersion") == version]
    except ReadError as err:
        ctx.could_not(check, version, err)
        found = None
    if found == []:
        ctx.add(
            check,
            version,
            "fail",
            f"EKS in {ctx.settings.region} does not offer Kubernetes {version}",
            "set training.kubernetesVersion to a version `aws eks describe-cluster-versions` lists",
        )
    elif found:
        # the deprecated status says the same in lower case with hyphens (botocore: ClusterVersionStatus)
        status = found[0].get("versionStatus") or found[0].get("status", "").upper().replace("-", "_")
        if status == "STANDARD_SUPPORT":
            ctx.add(check, version, "ok", f"Kubernetes {version}: {status}")
        elif status == "EXTENDED_SUPPORT":
            ctx.add(
                check,
                version,
                "warn",
                f"Kubernetes {version}: {status} (billed at the extended-support rate)",
                "upgrade training.kubernetesVersion (docs/training.md)",
            )
        else:
            ctx.add(
                check,
                version,
                "fail",
                f"Kubernetes {version}: {status or 'no status'}",
                "set training.kubernetesVersion to a version in standard support",
            )
    for addon in addons:
        try:
            answer = account.call("eks.DescribeAddonVersions", kubernetesVersion=version, addonName=addon)
        except ReadError as err:
            ctx.could_not("eks-addon", addon, err)
            continue
        versions = [
            v for a in answer.get("addons", []) if a.get("addonName") == addon for v in a.get("addonVersions", [])
        ]
        default = [
            v["addonVersion"]
            for v in versions
            if any(c.get("clusterVersion") == version and c.get("defaultVersion") for c in v.get("compatibilities", []))
        ]
        if default:
            ctx.add("eks-addon", addon, "ok", f"default version for Kubernetes {version}: {default[0]}")
        elif versions:
            ctx.add(
                "eks-addon",
                addon,
                "warn",
                f"{len(versions)} versions for Kubernetes {version}, none the default (the stack takes EKS's default)",
                "pin a version it lists (TrainingClusterArgs.addon_versions, components/training_cluster.py)",
            )
        else:
            ctx.add(
                "eks-addon",
                addon,
                "fail",
                f"no version for Kubernetes {version} in {ctx.settings.region}",
                "choose a Kubernetes version the add-on supports",
            )
    _node_image(ctx, account, version)


def node_image_parameters(settings) -> list[str]:
    """The SSM parameters Karpenter resolves for the stack's pinned node image: the standard AL2023
    image for CPU nodes, the NVIDIA one for GPU nodes (x86_64: the CPU pool requires amd64, and every GPU
    family the settings allow is x86_64)."""
    release = settings.training.node_image.removeprefix("al2023@")
    variants = ["standard"] + (["nvidia"] if settings.training.gpu_pools else [])
    return [
        facts.AL2023_PARAMETER.format(
            k8s=settings.training.kubernetes_version, arch="x86_64", variant=v, release=release
        )
        for v in variants
    ]


def _node_image(ctx: Context, account: Account, version: str) -> None:
    names = node_image_parameters(ctx.settings)
    alias = ctx.settings.training.node_image
    try:
        answer = account.call("ssm.GetParameters", Names=names)
    except ReadError as err:
        ctx.could_not("node-image", alias, err)
        return
    missing = sorted(
        set(answer.get("InvalidParameters", [])) | (set(names) - {p["Name"] for p in answer.get("Parameters", [])})
    )
    if missing:
        ctx.add(
            "node-image",
            alias,
            "fail",
            f"no AMI for Kubernetes {version} at {alias}: {', '.join(missing)} does not exist",
            "set training.nodeImage to a release published for this version (awslabs/amazon-eks-ami releases)",
        )
    else:
        ctx.add("node-image", alias, "ok", f"{len(names)} AMI parameters resolve for Kubernetes {version}")


# --- the bootstrap's outputs ------------------------------------------------------------------------


def check_state(ctx: Context, account: Account) -> None:
    """The backend's bucket answers these credentials, and the secrets key is enabled."""
    from botocore.exceptions import ClientError

    from foundation.conventions import secrets_alias, state_bucket_name

    s = ctx.settings
    url = ctx.backend_url
    if not url:
        ctx.add(
            "state-backend",
            "backend URL",
            "warn",
            "no backend URL: not logged in and none given",
            "run `pulumi login <backendUrl>` (the bootstrap's output) or pass --backend-url",
        )
    elif not url.startswith("s3://"):
        ctx.add(
            "state-backend",
            url,
            "warn",
            f"the backend ({ctx.backend_source}) is not an S3 bucket",
            "log in to the bootstrap's backendUrl: `pulumi login $(cd bootstrap && pulumi stack output backendUrl)`",
        )
    else:
        parsed = urlparse(url)
        bucket, region = parsed.netloc, parse_qs(parsed.query).get("region", [s.region])[0]
        try:
            account.call("s3.HeadBucket", region, expected=("404", "403", "301", "NoSuchBucket"), Bucket=bucket)
            expected = state_bucket_name(s.environment, s.account_id, s.region)
            if bucket != expected:
                ctx.add(
                    "state-backend",
                    bucket,
                    "warn",
                    f"reachable, but not the bootstrap's bucket of {s.environment} ({expected})",
                    f"log in to the bootstrap's backendUrl of {s.environment}",
                )
            else:
                ctx.add("state-backend", bucket, "ok", f"reachable in {region} ({ctx.backend_source})")
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            meaning = {
                "404": "does not exist",
                "NoSuchBucket": "does not exist",
                "301": f"is not in {region}",
                "403": "refuses these credentials s3:ListBucket",
            }[code]
            ctx.add(
                "state-backend",
                bucket,
                "fail",
                f"the state bucket {meaning} ({ctx.backend_source})",
                "run the bootstrap (docs/deploying.md step 2) and log in to its backendUrl",
            )
        except ReadError as err:
            ctx.could_not("state-backend", bucket, err)
    key, region = _secrets_key(ctx.secrets_provider, secrets_alias(s.environment), s.region)
    if key is None:
        ctx.add(
            "secrets-key",
            ctx.secrets_provider or "",
            "warn",
            "the stack's secrets provider is not AWS KMS",
            "use the bootstrap's secretsProvider (docs/deploying.md step 5)",
        )
        return
    try:
        meta = account.call("kms.DescribeKey", region, expected=("NotFoundException",), KeyId=key)["KeyMetadata"]
    except ClientError:
        ctx.add("secrets-key", key, "fail", f"no such key in {region}", "run the bootstrap (docs/deploying.md step 2)")
        return
    except ReadError as err:
        ctx.could_not("secrets-key", key, err)
        return
    if meta.get("KeyState") == "Enabled" and meta.get("KeyUsage") == "ENCRYPT_DECRYPT":
        ctx.add("secrets-key", key, "ok", f"{meta['Arn']}: Enabled, ENCRYPT_DECRYPT")
    else:
        ctx.add(
            "secrets-key",
            key,
            "fail",
            f"{meta.get('Arn', key)}: {meta.get('KeyState')}, {meta.get('KeyUsage')}",
            "enable the key (a key pending deletion can be restored: `aws kms cancel-key-deletion`)",
        )


def _secrets_key(provider: str | None, default_alias: str, region: str) -> tuple[str | None, str]:
    """(key id or alias, region) of an ``awskms://`` secrets provider; the bootstrap's alias when the
    stack has none yet (before `pulumi stack init`)."""
    if not provider:
        return default_alias, region
    parsed = urlparse(provider)
    if parsed.scheme != "awskms":
        return None, region
    key = (parsed.netloc + parsed.path).lstrip("/")
    return key, parse_qs(parsed.query).get("region", [region])[0]


def check_ci(ctx: Context, account: Account) -> None:
    """The GitHub OIDC provider and the runner's CodeConnections connection the stack names."""
    from botocore.exceptions import ClientError

    from foundation.iam.github import GITHUB_OIDC_HOST

    ci = ctx.settings.ci
    if ci.github_repository and ci.oidc_provider_arn:
        try:
            p = account.call(
                "iam.GetOpenIDConnectProvider",
                expected=("NoSuchEntity",),
                OpenIDConnectProviderArn=ci.oidc_provider_arn,
            )
            if p.get("Url", "").removeprefix("https://") != GITHUB_OIDC_HOST or facts.OIDC_AUDIENCE not in p.get(
                "ClientIDList", []
            ):
                ctx.add(
                    "oidc-provider",
                    ci.oidc_provider_arn,
                    "fail",
                    f"URL {p.get('Url')}, audiences {p.get('ClientIDList')}",
                    f"name the provider of {GITHUB_OIDC_HOST} with audience "
                    f"{facts.OIDC_AUDIENCE} (the bootstrap's oidcProviderArn)",
                )
            else:
                ctx.add(
                    "oidc-provider", ci.oidc_provider_arn, "ok", f"{GITHUB_OIDC_HOST}, audience {facts.OIDC_AUDIENCE}"
                )
        except ClientError:
            ctx.add(
                "oidc-provider",
                ci.oidc_provider_arn,
                "fail",
                "no such OIDC provider",
                "run the bootstrap (docs/deploying.md step 2) and name its oidcProviderArn in ci.oidcProviderArn",
            )
        except ReadError as err:
            ctx.could_not("oidc-provider", ci.oidc_provider_arn, err)
    elif ci.github_repository:
        try:
            arns = [
                p["Arn"] for p in account.call("iam.ListOpenIDConnectProviders").get("OpenIDConnectProviderList", [])
            ]
            taken = [a for a in arns if a.endswith(f"/{GITHUB_OIDC_HOST}")]
            ours = taken and _made_by(
                ctx, account.call("iam.GetOpenIDConnectProvider", OpenIDConnectProviderArn=taken[0]).get("Tags", [])
            )
            if taken and not ours:
                ctx.add(
                    "oidc-provider",
                    "ci.oidcProviderArn",
                    "fail",
                    f"the account has {taken[0]} and the stack would create another (an account has one per URL)",
                    f"set ci.oidcProviderArn: {taken[0]}",
                )
            else:
                ctx.add(
                    "oidc-provider",
                    "ci.oidcProviderArn",
                    "ok",
                    f"{taken[0]}, created by this stack"
                    if ours
                    else f"no provider of {GITHUB_OIDC_HOST} yet: the stack creates it",
                )
        except ReadError as err:
            ctx.could_not("oidc-provider", "ci.oidcProviderArn", err)
    if ci.runner == "codebuild" and ci.code_connection_arn:
        arn = ci.code_connection_arn
        service, region = arn.split(":")[2], arn.split(":")[3]
        try:
            c = account.call(
                f"{service}.GetConnection", region, expected=("ResourceNotFoundException",), ConnectionArn=arn
            )["Connection"]
        except ClientError:
            ctx.add(
                "code-connection",
                arn,
                "fail",
                "no such connection",
                "run the bootstrap and name its codeConnectionArn in ci.codeConnectionArn",
            )
            return
        except ReadError as err:
            ctx.could_not("code-connection", arn, err)
            return
        status = c.get("ConnectionStatus")
        if status == "AVAILABLE":
            ctx.add("code-connection", arn, "ok", f"{c.get('ProviderType')}: AVAILABLE")
        elif status == "PENDING":
            ctx.add(
                "code-connection",
                arn,
                "fail",
                "PENDING: the GitHub connection was never authorized",
                "authorize it in the console: Developer Tools > Connections > Update pending connection "
                "(docs/deploying.md step 3)",
            )
        else:
            ctx.add(
                "code-connection",
                arn,
                "fail",
                f"{status}",
                "update the connection in the console, or create a new one with the bootstrap",
            )


# --- alerts and budgets ------------------------------------------------------------------------------


def check_alerts(ctx: Context, account: Account) -> None:
    """Chatbot's Slack workspaces, and the budget's cost allocation tag."""
    m = ctx.settings.monitoring
    workspaces = sorted({c.workspace_id for c in m.slack_channels})
    if workspaces:
        try:
            authorized = {
                w["SlackTeamId"]: w.get("SlackTeamName", "")
                for w in account.pages("chatbot.DescribeSlackWorkspaces", "SlackWorkspaces")
            }
            for w in workspaces:
                if w in authorized:
                    ctx.add("chatbot-workspace", w, "ok", f"authorized ({authorized[w]})")
                else:
                    ctx.add(
                        "chatbot-workspace",
                        w,
                        "fail",
                        "the Slack workspace is not authorized for AWS Chatbot in this account",
                        "authorize it once: AWS Chatbot console > Configure new client > Slack, "
                        "signed in to that workspace",
                    )
        except ReadError as err:
            ctx.could_not("chatbot-workspace", ", ".join(workspaces), err)
    if m.budget_scope == "tag":
        _budget_tag(ctx, account)


BUDGET_TAG = "environment"  # components/monitoring.py: the budget filters user:environment$<env>


def _budget_tag(ctx: Context, account: Account) -> None:
    """A tag key reaches ListCostAllocationTags only once billing has seen it (about a day after the
    first tagged resource), and activating a key it has not seen fails: the pulumi-aws resource's
    Terraform twin reports "empty result" (hashicorp/terraform-provider-aws#29068; #31442: "AWS does
    only allow to activate tags in the cost allocation after they have been used for ~24 hours").
    Not read from an AWS page (UNVERIFIED there)."""
    try:
        tags = account.call("ce.ListCostAllocationTags", "us-east-1", TagKeys=[BUDGET_TAG]).get(
            "CostAllocationTags", []
        )
    except ReadError as err:
        ctx.could_not("cost-allocation-tag", BUDGET_TAG, err)
        return
    status = next((t.get("Status") for t in tags if t.get("TagKey") == BUDGET_TAG), None)
    activates = ctx.settings.monitoring.activate_environment_tag
    if status == "Active":
        ctx.add("cost-allocation-tag", BUDGET_TAG, "ok", "Active: the tag-scoped budget counts this stack's costs")
    elif status == "Inactive" and activates:
        ctx.add(
            "cost-allocation-tag",
            BUDGET_TAG,
            "ok",
            "Inactive; the stack activates it (monitoring.activateEnvironmentTag)",
        )
    elif status is None:
        ctx.add(
            "cost-allocation-tag",
            BUDGET_TAG,
            "fail" if activates else "warn",
            "the tag key has not appeared in billing data yet: the budget counts nothing until it is active"
            + (", and activating it now fails" if activates else ""),
            (
                "set monitoring.activateEnvironmentTag: false for this run (the stack's resources carry the tag) "
                "and true again a day later"
                if activates
                else "deploy: the stack's resources carry the tag and billing sees it within a day; then activate it"
            ),
        )
    else:
        ctx.add(
            "cost-allocation-tag",
            BUDGET_TAG,
            "fail",
            f"{status}: the tag-scoped budget counts nothing",
            "activate it in the Billing console (Cost allocation tags), from the management account, or set "
            "monitoring.activateEnvironmentTag in a standalone account",
        )


# --- account-wide leftovers and the region's services ---------------------------------------------


def _made_by(ctx: Context, tags: list[dict]) -> bool:
    """Tagged by this stack's provider (foundation/conventions.platform_tags: project and environment):
    a resource the stack created on an earlier run, not one that would collide with it."""
    from foundation.conventions import PROJECT

    found = {t.get("Key"): t.get("Value") for t in tags}
    return found.get("project") == PROJECT and found.get("environment") == ctx.settings.environment


def _spot_role(ctx: Context, account: Account) -> None:
    """The account-wide Spot service-linked role: created once, by this stack or before it."""
    from botocore.exceptions import ClientError

    role, creates = facts.SPOT_SERVICE_LINKED_ROLE, ctx.settings.training.create_spot_service_linked_role
    try:
        tags = account.call("iam.GetRole", expected=("NoSuchEntity",), RoleName=role)["Role"].get("Tags", [])
        exists = True
    except ClientError:
        exists, tags = False, []
    except ReadError as err:
        ctx.could_not("spot-role", role, err)
        return
    if exists and creates and not _made_by(ctx, tags):
        ctx.add(
            "spot-role",
            role,
            "fail",
            "the account has it (not made by this stack) and the stack would create it again",
            "set training.createSpotServiceLinkedRole: false",
        )
    elif not exists and not creates:
        ctx.add(
            "spot-role",
            role,
            "fail",
            "spot capacity needs it; the account has none and the stack creates none",
            "set training.createSpotServiceLinkedRole: true",
        )
    else:
        ctx.add(
            "spot-role",
            role,
            "ok",
            ("created by this stack" if creates else "exists") if exists else "the stack creates it",
        )


def check_account(ctx: Context, account: Account, services: tuple[str, ...]) -> None:
    """The Spot service-linked role the stack would create or needs, and the services it uses in the
    region (Systems Manager's global-infrastructure parameters)."""
    tr = ctx.settings.training
    uses_spot = "spot" in tr.cpu_pool.capacity_types or any("spot" in p.capacity_types for p in tr.gpu_pools)
    if uses_spot:
        _spot_role(ctx, account)
    path = facts.REGION_SERVICES_PATH.format(region=ctx.settings.region)
    try:
        offered = {
            p["Value"]
            for p in account.pages("ssm.GetParametersByPath", "Parameters", facts.REGION_SERVICES_QUERIED_IN, Path=path)
        }
    except ReadError as err:
        ctx.could_not("region-services", ctx.settings.region, err)
        return
    missing = [s for s in services if s not in offered]
    if missing:
        ctx.add(
            "region-services",
            ctx.settings.region,
            "fail",
            f"not offered in the region: {', '.join(missing)}",
            "deploy the stack to a region that offers them",
        )
    else:
        ctx.add("region-services", ctx.settings.region, "ok", f"offers {', '.join(services)}")
