"""Which AWS credentials the Pulumi CLI finds, and when it cannot: a model of the AWS SDK for Go v2
that its S3 state backend and the AWS provider use.

Sources:
- The backend: pulumi/pulumi pkg/go.mod (v3.259.0) opens ``s3://`` URLs through gocloud.dev
  (aws/aws.go ``V2ConfigFromURLParams`` -> ``config.LoadDefaultConfig``) with no MFA token provider;
  aws-sdk-go-v2 config v1.32.31, resolve_credentials.go ``resolveCredentialChain``: credentials set
  in code win, then environment keys (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``), then a web
  identity token file, then the shared-config profile (``AWS_PROFILE``, else ``default``);
  ``credsFromAssumeRole``: a role profile with ``mfa_serial`` and no token provider returns
  ``AssumeRoleTokenProviderNotSetError`` ("assume role with MFA enabled, but AssumeRoleTokenProvider
  session option not set."); config.go ``resolveConfigLoaders``: an ``AWS_PROFILE`` naming no profile
  fails even when environment keys are set.
- The provider: the same failure for MFA profiles is reported in pulumi/pulumi-aws#1366 (open). Whether
  the provider prefers ``AWS_PROFILE`` over environment keys (the Terraform provider passes the
  profile to the SDK explicitly) was not verified: the model assumes it does, so the documented
  commands unset ``AWS_PROFILE`` once credentials are exported.
- ``aws configure export-credentials --format env`` (AWS CLI >= 2.9.0, exportcreds.py): resolves
  the profile with the CLI's own chain, which prompts for the MFA code, and prints ``export
  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_SESSION_TOKEN=...``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
MFA_ERROR = (
    "AssumeRoleTokenProviderNotSetError: assume role with MFA enabled, but AssumeRoleTokenProvider session option "
    "not set."
)


@dataclass(frozen=True)
class Resolved:
    source: str | None  # where the credentials come from, or None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def resolve(env: Mapping[str, str], profiles: Mapping[str, Mapping[str, str]], *, provider: bool = False) -> Resolved:
    """The credentials a Go SDK client gets from ``env`` and the shared config ``profiles``.
    ``provider``: as the AWS provider, which (unverified) lets ``AWS_PROFILE`` win over env keys."""
    named = env.get("AWS_PROFILE")
    if named is not None and named not in profiles:
        return Resolved(None, f"SharedConfigProfileNotExistError: failed to get shared config profile, {named}")
    has_keys = all(env.get(k) for k in KEYS[:2])
    if has_keys and not (provider and named):
        return Resolved("environment")
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN") and not named:
        return Resolved("web identity")
    name = named or env.get("AWS_DEFAULT_PROFILE") or "default"
    if name in profiles:
        return _profile(name, profiles, set())
    if env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        return Resolved("container endpoint")
    return Resolved(None, "no credentials: no environment keys, no profile, not on a machine with a role")


def _profile(name: str, profiles: Mapping[str, Mapping[str, str]], seen: set[str]) -> Resolved:  # noqa: PLR0911
    if name in seen:
        return Resolved(None, f"source_profile loop through {name}")
    if name not in profiles:
        return Resolved(None, f"SharedConfigProfileNotExistError: failed to get shared config profile, {name}")
    p = profiles[name]
    if "role_arn" in p:
        if "source_profile" in p:
            source = _profile(p["source_profile"], profiles, seen | {name})
            if not source.ok:
                return source
        if "mfa_serial" in p:
            return Resolved(None, MFA_ERROR)
        return Resolved(f"assumed role of profile {name}")
    if "sso_session" in p or "sso_start_url" in p:
        return Resolved(f"IAM Identity Center session of profile {name} (after `aws sso login`)")
    if "credential_process" in p:
        return Resolved(f"credential_process of profile {name}")
    if "aws_access_key_id" in p:
        return Resolved(f"keys of profile {name}")
    return Resolved(None, f"profile {name} holds no credentials")


# --- the shell lines of the documentation --------------------------------------------------------

EXPORT_CREDENTIALS = re.compile(
    r'^eval "\$\(aws configure export-credentials --profile (?P<profile>[\w.-]+) --format env\)"$'
)
NEEDS_AWS = ("login", "stack", "preview", "up", "destroy", "refresh", "import", "state", "cancel")


def follow(lines: list[str], env: Mapping[str, str]) -> tuple[list[tuple[str, dict[str, str]]], dict[str, str]]:
    """Follow the environment through documented shell lines (``export``, ``unset``, ``eval "$(aws
    configure export-credentials ...)"``, ``VAR=value command``): each ``pulumi`` command with the
    environment it runs in, and the environment after the last line."""
    state, found = dict(env), []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line:
            continue
        exported = EXPORT_CREDENTIALS.match(line)
        if exported:
            state.update({k: f"<from {exported['profile']}>" for k in KEYS})
            continue
        try:
            words = shlex.split(line)
        except ValueError:  # not a line this model follows (here-documents, odd quoting)
            continue
        if words[0] == "export":
            state.update(dict(w.split("=", 1) for w in words[1:] if "=" in w))
            continue
        if words[0] == "unset":
            for w in words[1:]:
                state.pop(w, None)
            continue
        local = dict(state)
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            k, v = words.pop(0).split("=", 1)
            local[k] = v
        if words and words[0] == "pulumi":
            found.append((line, local))
    return found, state


def needs_aws(pulumi_command: str) -> bool:
    """A pulumi command that opens the S3 state backend or runs the AWS provider (not one that only
    logs in to a local directory)."""
    words = shlex.split(pulumi_command.split(" #", 1)[0])
    words = [w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)]
    if len(words) < 2 or words[1] not in NEEDS_AWS:
        return False
    return not (words[1] == "login" and (len(words) < 3 or words[2] in ("--local",) or words[2].startswith("file://")))
