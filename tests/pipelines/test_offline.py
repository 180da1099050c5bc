"""The offline plan: complete, realistic, deterministic, and repeatable within one process."""

from __future__ import annotations

import json
import re

import pytest

from infra.settings import SettingsError
from infra.stackfile import SECRET_PLACEHOLDER
from pipelines.offline import (
    REPO_ROOT,
    RecordingMonitor,
    StackFileError,
    engine_config,
    plan_stack,
    program_of,
    read_stack_config,
    run,
)
from pipelines.plan import SCHEMA_VERSION, Plan
from tests.plans import stack_plan


def test_the_same_code_gives_byte_identical_plans():
    first = plan_stack("prod").to_json()
    plan_stack("dev")  # another stack in between must leave no trace
    assert plan_stack("prod").to_json() == first


def test_several_stacks_plan_in_one_process_each_with_its_own_root():
    dev, prod = plan_stack("dev"), plan_stack("prod")
    # Each stack is its two projects (cluster/Pulumi.yaml plans after the platform, from its outputs).
    assert dev.projects == prod.projects == ["mlplatform", "mlplatform-cluster"]
    for plan, stack in ((dev, "dev"), (prod, "prod")):
        prefixes = (f"urn:pulumi:{stack}::mlplatform::", f"urn:pulumi:{stack}::mlplatform-cluster::")
        assert all(r.urn.startswith(prefixes) for r in plan)
    roots = {r.parent for r in prod if r.parent and "pulumi:pulumi:Stack" in r.parent.split("::")[2].split("$")[-1]}
    assert roots == {
        "urn:pulumi:prod::mlplatform::pulumi:pulumi:Stack::mlplatform-prod",
        "urn:pulumi:prod::mlplatform-cluster::pulumi:pulumi:Stack::mlplatform-cluster-prod",
    }


def test_the_in_cluster_project_reads_the_platform_stack_of_the_same_name():
    plan = stack_plan("dev")
    assert plan.project_outputs["mlplatform-cluster"]["platformStack"] == "organization/mlplatform/dev"
    (k8s,) = plan.of_type("pulumi:providers:kubernetes")
    config = json.loads(k8s.inputs["kubeconfig"])
    assert config["clusters"][0]["cluster"] == {
        "server": plan.outputs["clusterEndpoint"],
        "certificate-authority-data": plan.outputs["clusterCertificateAuthority"],
    }
    # The platform project has no Kubernetes resource: it never needs the cluster API.
    assert not [r for r in plan.of_project("mlplatform") if r.type.startswith(("kubernetes:", "pulumi:providers:kub"))]


def test_plan_records_tree_options_and_dependencies():
    plan = stack_plan("prod")
    component = plan.get("mlplatform:encryption:Encryption", "keys")
    assert component.custom is False and component.id is None
    assert set(component.outputs["keyArns"]) == {"data", "models", "logs", "cluster"}
    key = plan.get("aws:kms/key:Key", "keys-data")
    alias = plan.get("aws:kms/alias:Alias", "keys-data")
    assert key.parent == alias.parent == component.urn
    assert key.options == {"protect": True, "retainOnDelete": True}
    assert alias.property_dependencies == {"targetKeyId": [key.urn]}
    assert re.fullmatch(r"arn:aws:kms:eu-west-1:333333333333:key/[0-9a-f-]{36}", key.outputs["arn"])
    assert alias.outputs["arn"] == "arn:aws:kms:eu-west-1:333333333333:alias/mlplatform-prod-data"


def test_plan_json_is_versioned_and_round_trips():
    plan = stack_plan("staging")
    data = json.loads(plan.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert set(data) == {"schema_version", "project", "stack", "resources", "outputs", "project_outputs"}
    assert set(data["resources"][0]) == {
        "urn", "type", "name", "parent", "custom", "provider", "id",
        "inputs", "outputs", "options", "dependencies", "property_dependencies",
    }  # fmt: skip
    assert Plan.from_dict(data).to_json() == plan.to_json()
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version 99 is not 1"):
        Plan.from_dict(data)


def test_bad_settings_register_nothing():
    config = read_stack_config("dev", overrides={"mlplatform:protect": "maybe"})
    monitor = RecordingMonitor()
    with pytest.raises(SettingsError, match="mlplatform:protect"):
        run(config, monitor=monitor)
    assert monitor.records == {}
    # the runtime is usable again right after a failure
    assert len(plan_stack("dev")) == len(stack_plan("dev"))


def test_secure_values_become_placeholders_and_are_marked_secret():
    config = engine_config(
        "mlplatform",
        "dev",
        {"mlplatform:alertWebhook": {"secure": "v1:abc"}, "owner": "me", "mlplatform:protect": False},
    )
    assert config.values["mlplatform:alertWebhook"] == SECRET_PLACEHOLDER
    assert config.secret_keys == {"mlplatform:alertWebhook"}
    assert config.values["mlplatform:owner"] == "me"  # project namespace applied
    assert config.values["mlplatform:protect"] == "false"


def test_scaled_stack_grows_by_what_it_adds():
    domains = [f"team{i:02d}" for i in range(10)]
    plan = plan_stack("dev", overrides={"mlplatform:encryption": {"additionalDomains": domains}})
    assert plan.counts()["aws:kms/key:Key"] == 14
    assert len(plan) == len(stack_plan("dev")) + 20


def test_the_program_is_the_main_of_the_projects_pulumi_yaml(tmp_path):
    assert program_of(REPO_ROOT) == REPO_ROOT / "infra" / "__main__.py"
    assert program_of(REPO_ROOT / "bootstrap") == REPO_ROOT / "bootstrap" / "__main__.py"
    # a directory with only Pulumi.yaml and stacks/ runs this checkout's program at the same main
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    assert program_of(tmp_path) == REPO_ROOT / "infra" / "__main__.py"
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\nmain: nowhere/\n")
    with pytest.raises(StackFileError, match=r"names `main: nowhere/`, but .*nowhere/__main__\.py does not exist"):
        program_of(tmp_path)
    with pytest.raises(StackFileError, match=r"is not a Pulumi project: it has no Pulumi\.yaml"):
        program_of(tmp_path / "missing")


def test_two_projects_plan_in_one_process_without_trace_of_each_other():
    bootstrap = plan_stack("dev", root=REPO_ROOT / "bootstrap")
    assert bootstrap.project == "mlplatform-bootstrap"
    assert all(r.urn.startswith("urn:pulumi:dev::mlplatform-bootstrap::") for r in bootstrap)
    assert plan_stack("dev").to_json() == stack_plan("dev").to_json()


def test_the_namespaces_the_offline_reader_accepts_are_the_programs():
    from bootstrap import settings as bootstrap_settings
    from infra import settings as platform_settings
    from pipelines.offline import PROGRAM_NAMESPACES

    assert PROGRAM_NAMESPACES == {
        "mlplatform": platform_settings.NAMESPACE,
        "mlplatform-cluster": platform_settings.NAMESPACE,  # the same stack files (stackConfigDir: ../stacks)
        "mlplatform-bootstrap": bootstrap_settings.NAMESPACE,
    }
