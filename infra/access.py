"""The access matrix: which role may do what on which resource, and why.

This table is the intent; the IAM policies are generated from it through the grant helpers of
the components that own the resources, and tests/access/ proves each cell (and a set of denials)
against moto's IAM evaluator. To give a role new access, add a row here: never hand-write a policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.documents import Statement


@dataclass(frozen=True)
class Cell:
    role: str  # a role of components.identity; "training" means every team's training role
    resource: str  # a key of the resources the platform registers (see infra/platform.py)
    grant: str  # the owner's grant_<grant> helper
    prefix: str = ""  # the grant's scope: an S3 prefix (may contain {team}) or a feature group; "" is all
    why: str = ""


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
)


def role_grants(
    resources: Mapping[str, Any], teams: Sequence[str], matrix: Sequence[Cell] = MATRIX
) -> dict[str, list[Statement]]:
    """Each role's identity-policy statements, from the matrix and the owners' grant helpers.

    ``resources`` maps the matrix's resource names to owners with ``grant_<grant>(prefix)`` methods.
    """
    grants: dict[str, list[Statement]] = {}

    def add(role: str, statements: list[Statement]) -> None:
        have = grants.setdefault(role, [])
        have.extend(st for st in statements if st not in have)  # e.g. EcrLogin of push and pull

    for cell in matrix:
        if cell.resource not in resources:
            raise KeyError(f"access matrix names {cell.resource!r}; resources: {', '.join(sorted(resources))}")
        helper = getattr(resources[cell.resource], f"grant_{cell.grant}")
        if cell.role == "training":
            for team in teams:
                add(f"training-{team}", helper(cell.prefix.format(team=team)))
        else:
            add(cell.role, helper(cell.prefix))
    return grants


def matrix_markdown(matrix: Sequence[Cell] = MATRIX) -> str:
    """The matrix as the Markdown table of the README (a test keeps the two identical)."""
    rows = ["| role | resource | grant | prefix | why |", "|---|---|---|---|---|"]
    for c in matrix:
        role = "training-&lt;team&gt;" if c.role == "training" else c.role
        prefix = f"`{c.prefix}`" if c.prefix else "all"
        rows.append(f"| {role} | {c.resource} | {c.grant} | {prefix} | {c.why} |")
    return "\n".join(rows)
