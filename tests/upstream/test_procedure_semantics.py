"""The models behind the procedures' checks (tests/upstream/test_runbook.py), held to their sources'
own examples: EKS endpoint access, the Pulumi engine's delete order, the Go SDK's credentials."""

from __future__ import annotations

from pipelines.semantics.credentials import MFA_ERROR, resolve
from pipelines.semantics.reach import Endpoint as ApiEndpoint
from pipelines.semantics.reach import Ingress, Place, reaches
from pipelines.semantics.teardown import Node, delete_schedule, deleted_before, waits_for

# --- where a command runs: EKS endpoint access (pipelines/semantics/reach.py) ------------------------


LAPTOP = Place("laptop", in_vpc=False, public_ips=("85.10.20.30",))
RUNNER = Place("runner", in_vpc=True, public_ips=("52.1.2.3",), security_groups=frozenset({"sg-runner"}))
NODE_ELSEWHERE = Place("vpc host", in_vpc=True, public_ips=("52.1.2.3",), security_groups=frozenset({"sg-other"}))
ADMITS_RUNNER = (Ingress(443, 443, source_group="sg-runner"),)


def test_eks_endpoint_access_as_the_api_reference_and_user_guide_state_it():
    # VpcConfigRequest: "If you disable public access, your cluster's Kubernetes API server can only
    # receive requests from within the cluster VPC."
    private = ApiEndpoint(public=False, private=True, ingress=ADMITS_RUNNER)
    assert not reaches(LAPTOP, private)
    # cluster-endpoint: a client in the VPC needs the control-plane security group to allow 443 from it.
    assert reaches(RUNNER, private)
    assert not reaches(NODE_ELSEWHERE, private)
    assert not reaches(RUNNER, ApiEndpoint(public=False, private=True, ingress=(Ingress(80, 80, "sg-runner"),)))
    # publicAccessCidrs: "The default value is 0.0.0.0/0"; "Communication to the endpoint from addresses
    # outside of the CIDR blocks that you specify is denied."
    assert reaches(LAPTOP, ApiEndpoint(public=True))
    assert reaches(LAPTOP, ApiEndpoint(public=True, public_cidrs=("85.10.20.0/24",)))
    assert not reaches(LAPTOP, ApiEndpoint(public=True, public_cidrs=("81.2.69.0/24",)))
    # "If you enable private access, Kubernetes API requests from within your cluster's VPC use the
    # private VPC endpoint": public CIDRs do not matter inside, the security group does.
    both = ApiEndpoint(public=True, private=True, public_cidrs=("85.10.20.30/32",), ingress=ADMITS_RUNNER)
    assert reaches(RUNNER, both) and reaches(LAPTOP, both) and not reaches(NODE_ELSEWHERE, both)
    # Public only: requests from the VPC "leave the VPC"; VpcConfigRequest: with private access off and
    # nodes in the cluster, "ensure that publicAccessCidrs includes the necessary CIDR blocks".
    public_only = ApiEndpoint(public=True, private=False, public_cidrs=("85.10.20.30/32",))
    assert not reaches(RUNNER, public_only)
    assert reaches(RUNNER, ApiEndpoint(public=True, private=False, public_cidrs=("52.1.2.3/32",)))


# --- the engine's delete order (pipelines/semantics/teardown.py) -------------------------------------


# pulumi/pulumi v3.259.0 pkg/resource/graph/dependency_graph_test.go TestDependencyGraph's fixture (the
# providers' URNs shortened to their names).
ENGINE_FIXTURE = [
    Node("providerA"),
    Node("a1", provider="providerA"),
    Node("a2", provider="providerA", dependencies=("a1",)),
    Node("providerB", dependencies=("a1", "a2")),
    Node("b1", provider="providerB", dependencies=("a1",)),
    Node("c1", dependencies=("a2",)),
    Node("providerD"),
    Node("d1", provider="providerD"),
    Node("d2", parent="d1"),
    Node("d3", provider="providerD", deleted_with="d1"),
    Node("d4", parent="d2"),
    Node("d5", parent="d3"),
    Node("e1"),
    Node("e2", dependencies=("e1",)),
    Node("e3", property_dependencies={"e3Prop1": ["e1"]}),
    Node("e4", dependencies=("e3",)),
    Node("e5", deleted_with="e3"),
]


def test_the_engine_delete_order_on_pulumis_own_dependency_graph_cases():
    closure = waits_for(ENGINE_FIXTURE)
    # TransitiveDependenciesOf: providerB {a1, a2, providerA}; b1 {providerB, a1, a2, providerA};
    # c1 {a2, providerA, a1}; d2 {d1, providerD}; e4 {e3, e1}; e5 {e3, e1}.
    assert closure["providerB"] == {"a1", "a2", "providerA"}
    assert closure["b1"] == {"providerB", "a1", "a2", "providerA"}
    assert closure["c1"] == {"a2", "providerA", "a1"}
    assert closure["d2"] == {"d1", "providerD"}
    assert closure["e4"] == {"e3", "e1"} and closure["e5"] == {"e3", "e1"}
    # DependingOn(providerA) = [a1, a2, providerB, b1, c1]: all go before providerA; DependingOn(e3) = [e4, e5].
    for dependent in ("a1", "a2", "providerB", "b1", "c1"):
        assert deleted_before(ENGINE_FIXTURE, dependent, "providerA")
    assert deleted_before(ENGINE_FIXTURE, "e4", "e3") and deleted_before(ENGINE_FIXTURE, "e5", "e3")
    assert not deleted_before(ENGINE_FIXTURE, "e2", "e3") and not deleted_before(ENGINE_FIXTURE, "e3", "e2")
    # ScheduleDeletes: every resource in an earlier antichain than what it depends on.
    position = {u: i for i, chain in enumerate(delete_schedule(ENGINE_FIXTURE)) for u in chain}
    for node in ENGINE_FIXTURE:
        for dep in node.depends_on():
            assert position[node.urn] < position[dep], (node.urn, dep)


# --- credentials the Go SDK finds (pipelines/semantics/credentials.py) -------------------------------


# aws-sdk-go-v2 config testdata/shared_config (the profiles its tests use).
SHARED_CONFIG = {
    "complete_creds": {"aws_access_key_id": "complete_creds_akid", "aws_secret_access_key": "complete_creds_secret"},
    "assume_role": {"role_arn": "assume_role_role_arn", "source_profile": "complete_creds"},
    "assume_role_w_mfa": {
        "role_arn": "assume_role_role_arn",
        "source_profile": "complete_creds",
        "mfa_serial": "0123456789",
    },
    "assume_role_invalid_source_profile": {
        "role_arn": "assume_role_invalid_source_profile_role_arn",
        "source_profile": "profile_not_exists",
    },
    "multiple_assume_role": {"role_arn": "multiple_assume_role_role_arn", "source_profile": "assume_role"},
    "cred_proc_no_arn_set": {"credential_process": "cat ./testdata/test_json.json"},
    "sso-session-success": {"sso_session": "sso-session-success-dev", "sso_account_id": "123456789012"},
}


def test_credential_resolution_on_the_sdks_own_cases():
    # TestAssumeRole_WithMFA_NoTokenProvider: LoadDefaultConfig returns AssumeRoleTokenProviderNotSetError.
    assert resolve({"AWS_PROFILE": "assume_role_w_mfa"}, SHARED_CONFIG).error == MFA_ERROR
    # TestAssumeRole_InvalidSourceProfile / TestNewSharedConfig: the source profile does not exist.
    assert "profile_not_exists" in resolve({"AWS_PROFILE": "assume_role_invalid_source_profile"}, SHARED_CONFIG).error
    # TestLoadSharedConfig: a profile that does not exist fails, even with environment keys set
    # (config.go resolveConfigLoaders).
    keys = {"AWS_ACCESS_KEY_ID": "access_key", "AWS_SECRET_ACCESS_KEY": "secret_key"}
    assert (
        "failed to get shared config profile"
        in resolve({"AWS_PROFILE": "profile_not_exist", **keys}, SHARED_CONFIG).error
    )
    # TestSharedConfigCredentialSource "environment credentials with invalid sso": environment keys win.
    assert resolve({**keys}, SHARED_CONFIG).source == "environment"
    assert resolve({"AWS_PROFILE": "assume_role_w_mfa", **keys}, SHARED_CONFIG).source == "environment"
    # "credential process with no ARN set", source_profile chains, and SSO sessions resolve.
    assert resolve({"AWS_PROFILE": "cred_proc_no_arn_set"}, SHARED_CONFIG).ok
    assert resolve({"AWS_PROFILE": "multiple_assume_role"}, SHARED_CONFIG).ok
    assert resolve({"AWS_PROFILE": "sso-session-success"}, SHARED_CONFIG).ok
    # The provider: assumed (unverified) to let AWS_PROFILE win, so the documented commands unset it.
    assert resolve({"AWS_PROFILE": "assume_role_w_mfa", **keys}, SHARED_CONFIG, provider=True).error == MFA_ERROR
