"""The account as preflight reads it: declared calls only, errors sorted into what stops preflight
(credentials), what a check judges (an expected error code) and what it cannot check (the rest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from foundation.upstream import account_reads as facts

STATUSES = ("ok", "warn", "fail")


class PreflightError(Exception):
    """Preflight cannot judge the account at all: no credentials, or the wrong account."""


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked, e.g. "vcpu-quota"
    subject: str  # of what, e.g. "gpu pool gpu-a10g" or a quota's name and code
    status: str  # ok | warn | fail
    detail: str  # what the account says
    fix: str = ""  # what to do (warn and fail)


class ReadError(Exception):
    """A call answered with an error the check did not expect (access denied, throttling...)."""

    def __init__(self, action: str, code: str, message: str):
        super().__init__(f"{action}: {code}: {message}")
        self.action, self.code = action, code


# Errors that mean the credentials are unusable, whatever the call: the "Common Errors" of the AWS API
# references (ExpiredTokenException, InvalidClientTokenId, UnrecognizedClientException, ...), STS's
# ExpiredToken, and EC2's AuthFailure and RequestExpired (EC2 API reference, errors-overview).
CREDENTIAL_ERRORS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "RequestExpired",
    }
)


class Account:
    """The account, read through botocore clients in the stack's region (or another, per call).

    ``client_factory(service, region)`` makes the clients; tests pass moto-backed or stubbed ones."""

    def __init__(self, region: str, client_factory: Callable[[str, str], Any] | None = None):
        self.region = region
        self._factory = client_factory or _boto3_client
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._factory(*key)
        return self._clients[key]

    def call(self, key: str, region: str | None = None, expected: tuple[str, ...] = (), **params: Any) -> dict:
        """One declared call. An error code in ``expected`` is raised as ``ClientError`` for the check
        to judge; credential errors stop preflight; any other error is a ``ReadError``."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        call = facts.CALLS[key]
        undeclared = sorted(set(params) - set(call.params))
        if undeclared:  # a programming error: the call list (and the CI policy) would be wrong
            raise ValueError(f"{key}: request members {undeclared} are not declared in account_reads.CALLS")
        try:  # a client of an unknown region (a backend or secrets URL's ?region=) fails here
            return getattr(self.client(call.service, region), _snake(call.operation))(**params)
        except NoCredentialsError as err:
            raise PreflightError(
                "no AWS credentials found: export a session as docs/deploying.md (Credentials) says, e.g. "
                '`eval "$(aws configure export-credentials --profile <profile> --format env)"`'
            ) from err
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in CREDENTIAL_ERRORS:
                raise PreflightError(
                    f"the AWS credentials were refused ({code}): export a fresh session (docs/deploying.md, "
                    "Credentials)"
                ) from err
            if code in expected:
                raise
            raise ReadError(call.action, code, err.response.get("Error", {}).get("Message", "")) from err
        except BotoCoreError as err:  # endpoint unreachable, timeouts
            raise ReadError(call.action, type(err).__name__, str(err)) from err

    def pages(self, key: str, items: str, region: str | None = None, **params: Any) -> Iterator[dict]:
        """The items of every page of a call that pages with NextToken."""
        token = None
        while True:
            answer = self.call(key, region, **params, **({"NextToken": token} if token else {}))
            yield from answer.get(items, [])
            token = answer.get("NextToken")
            if not token:
                return


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


def _boto3_client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, region_name=region, config=config)


@dataclass
class Context:
    """What preflight checks a stack against, besides its settings."""

    stack: str
    settings: Any  # infra.settings.Settings
    backend_url: str | None = None
    backend_source: str = ""
    secrets_provider: str | None = None  # the stack file's secretsprovider
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, subject: str, status: str, detail: str, fix: str = "") -> None:
        self.findings.append(Finding(check, subject, status, detail, fix))

    def could_not(self, check: str, subject: str, err: ReadError) -> None:
        self.add(
            check,
            subject,
            "warn",
            f"could not check: {err}",
            f"allow {err.action} for these credentials (docs/deploying.md, Preflight) and run preflight again",
        )
