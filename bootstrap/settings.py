"""Typed, validated settings of a bootstrap stack (namespace ``bootstrap:`` of
``bootstrap/stacks/Pulumi.<stack>.yaml``).

The same rules as the platform's settings (infra/settings.py): unknown keys are errors with a
did-you-mean, and one :class:`BootstrapSettingsError` lists every problem. It is a ``RunError``, so
``pulumi up`` prints it without a traceback and ``mlplatform plan`` exits 2.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from infra.settings import (
    PROTECTED_ENVIRONMENTS,
    AccountId,
    GithubRepository,
    IamPrincipalArn,
    Region,
    _CrossFieldError,
    _decode,
    _path_message,
    _unique,
    configured_values,
)

NAMESPACE = "bootstrap"


class BootstrapSettingsError(pulumi.RunError):
    """A bootstrap stack's configuration is invalid."""

    def __init__(self, stack: str, problems: list[tuple[str, str]]):
        self.stack = stack
        self.problems = problems
        count = f"{len(problems)} invalid setting{'s' if len(problems) != 1 else ''}"
        lines = [f"bootstrap stack '{stack}' (bootstrap/stacks/Pulumi.{stack}.yaml) has {count}:"]
        lines += [f"  - {path}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


Principals = Annotated[list[IamPrincipalArn], AfterValidator(_unique)]


class BootstrapSettings(BaseModel):
    """What one account's bootstrap configures. Defaults are the safe choice."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    environment: Literal["dev", "staging", "prod"]
    region: Region
    account_id: AccountId
    # The repository whose workflows deploy the platform (tagged on the OIDC provider; the platform's
    # ci.githubRepository names it for the CI roles' trust).
    github_repository: GithubRepository
    # Who may assume ml-platform-admins, always with MFA: the break-glass administrators.
    admin_principals: Principals = Field(min_length=1)
    # Who may assume ml-model-approvers, always with MFA; empty: the account's IAM principals.
    approver_principals: Principals = Field(default_factory=list)
    protect: bool = Field(True, description="protect the state bucket, key and OIDC provider from deletion")

    @model_validator(mode="after")
    def _protected_outside_dev(self) -> BootstrapSettings:
        if self.environment in PROTECTED_ENVIRONMENTS and not self.protect:
            raise _CrossFieldError.one(
                "protect", f"must be true in {self.environment}: the state bucket and secrets key are protected"
            )
        return self


def parse(stack: str, values: dict[str, Any]) -> BootstrapSettings:
    """Validate a stack's ``bootstrap`` values; raise BootstrapSettingsError naming every problem."""
    try:
        return BootstrapSettings.model_validate({key: _decode(v) for key, v in values.items()})
    except ValidationError as err:
        problems = [(f"{NAMESPACE}:{path}", msg) for path, msg in _path_message(err, BootstrapSettings)]
        raise BootstrapSettingsError(stack, problems) from None


def load() -> BootstrapSettings:
    """The settings of the bootstrap stack being deployed (or planned offline)."""
    return parse(pulumi.get_stack(), configured_values(NAMESPACE))
