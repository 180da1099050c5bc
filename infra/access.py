"""The access matrix: which role may do what on which resource, and why.

This table is the intent; the IAM policies are generated from it through the grant helpers of
the components that own the resources, and tests/access/ proves each cell (and a set of denials)
against moto's IAM evaluator. To give a role new access, add a row here: never hand-write a policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from foundation.iam.documents import Statement


@dataclass(frozen=True)
class Cell:
    role: str  # a role of components.identity, or a role family of FAMILIES (one role per instance)
    resource: str  # a key of the resources the platform registers (see infra/platform.py); may use {zone}
    grant: str  # the owner's grant_<grant> helper
    prefix: str = ""  # the grant's scope: an S3 prefix, a feature group, a dataset; may use the family's fields
    why: str = ""


# Role families: one role per instance, named <family>-<name>, with the fields cells may use.
FAMILIES: dict[str, tuple[str, str]] = {
    "training": ("team", "a training team (training.teams)"),
    "serving": ("endpoint", "an endpoint (serving.endpoints): family"),
    "model-monitor": ("endpoint", "an endpoint with a monitor: baseline"),
    "data-quality": ("dataset", "a scheduled dataset (dataQuality.datasets): zone, prefix"),
}


MATRIX: tuple[Cell, ...] = (
    Cell("training", "lake:curated", "read", why="train on validated datasets"),
    Cell("training", "lake:artifacts", "read", "experiments/{team}/", "resume from the team's checkpoints"),
    Cell("training", "lake:artifacts", "write", "experiments/{team}/", "checkpoints and run outputs of the team"),
    Cell("training", "features", "query_offline", why="build training sets from the offline feature store"),
    Cell("training", "registry", "pull", "training", "run the team's training images"),
    Cell("training", "experiments", "log", why="log runs, metrics and models to MLflow"),
    Cell("training", "experiments", "dvc", why="push and pull DVC data versions"),
    Cell("feature-ingestion", "lake:raw", "read", why="source data to validate and transform"),
    Cell("feature-ingestion", "lake:curated", "write", why="publish validated datasets"),
    Cell("feature-ingestion", "features", "put", why="put feature records (online and offline stores)"),
    Cell("model-publisher", "lake:artifacts", "read", "experiments/", "pick the run to publish"),
    Cell("model-publisher", "lake:artifacts", "write", "models/", "versioned model artifacts"),
    Cell("model-publisher", "registry", "register", why="register a new model package version"),
    Cell("model-publisher", "registry", "push", why="push training and inference images"),
    Cell("model-publisher", "registry", "consume_approvals", why="deploy what the approver approved"),
    Cell("model-approver", "lake:artifacts", "read", "models/", "review a candidate's metrics and model card"),
    Cell("model-approver", "registry", "approve", why="approve or reject a model package version"),
    Cell("serving", "served-models", "read", "models/{family}/", "load the served version's artifacts"),
    Cell("serving", "served-models", "pull", why="run the registry's inference image"),
    Cell("serving", "lake:artifacts", "write", "capture/{endpoint}/", "capture requests and responses"),
    Cell("serving", "endpoints", "run", "{endpoint}", "network interfaces in the VPC, logs, rollback alarms"),
    Cell("model-monitor", "lake:artifacts", "read", "capture/{endpoint}/", "the traffic to compare"),
    Cell("model-monitor", "lake:artifacts", "read", "{baseline}", "the baseline statistics and constraints"),
    Cell("model-monitor", "lake:artifacts", "write", "monitoring/{endpoint}/reports/", "drift reports"),
    Cell("model-monitor", "endpoints", "monitor", "{endpoint}", "network interfaces, logs, drift metrics"),
    Cell("data-quality", "lake:{zone}", "read", "{prefix}", "evaluate the dataset's rules on its data"),
    Cell("data-quality", "data-quality", "evaluate", "{dataset}", "its table and ruleset, results, metrics"),
    Cell("data-quality", "lake:artifacts", "write", "data-quality/{dataset}/", "keep the evaluation results"),
)


def family_role(family: str, name: str) -> str:
    """The role of one instance of a family: training-recsys, data-quality-customer-profiles."""
    return f"{family}-{name.replace('_', '-')}"


def role_grants(
    resources: Mapping[str, Any],
    teams: Sequence[str],
    matrix: Sequence[Cell] = MATRIX,
    instances: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
) -> dict[str, list[Statement]]:
    """Each role's identity-policy statements, from the matrix and the owners' grant helpers.

    ``resources`` maps the matrix's resource names to owners with ``grant_<grant>(prefix)`` methods;
    ``instances`` gives each role family its instances (field -> value, the FAMILIES field naming
    the role); training's are the ``teams``.
    """
    grants: dict[str, list[Statement]] = {}
    every = {"training": [{"team": t} for t in teams], **(instances or {})}

    def add(role: str, statements: list[Statement]) -> None:
        have = grants.setdefault(role, [])
        have.extend(st for st in statements if st not in have)  # e.g. EcrLogin of push and pull

    for cell in matrix:
        if cell.role in FAMILIES:
            field = FAMILIES[cell.role][0]
            targets = [(family_role(cell.role, i[field]), i) for i in every.get(cell.role, ())]
        else:
            targets = [(cell.role, {})]
        for role, fields in targets:
            resource = cell.resource.format(**fields)
            if resource not in resources:
                raise KeyError(f"access matrix names {resource!r}; resources: {', '.join(sorted(resources))}")
            add(role, getattr(resources[resource], f"grant_{cell.grant}")(cell.prefix.format(**fields)))
    return grants


def matrix_markdown(matrix: Sequence[Cell] = MATRIX) -> str:
    """The matrix as the Markdown table of docs/security.md (a test keeps the two identical)."""
    rows = ["| role | resource | grant | prefix | why |", "|---|---|---|---|---|"]
    for c in matrix:
        role = f"{c.role}-&lt;{FAMILIES[c.role][0]}&gt;" if c.role in FAMILIES else c.role
        prefix = f"`{c.prefix}`" if c.prefix else "all"
        rows.append(f"| {role} | {c.resource} | {c.grant} | {prefix} | {c.why} |")
    return "\n".join(rows)
