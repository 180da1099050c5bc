"""Whether AWS allows a request, with the policy evaluation logic of the IAM User Guide: identity
policies, a permissions boundary, a resource policy (bucket, key, queue, topic) and their conditions.

No maintained library evaluates these offline with IAM's semantics (the survey is in
tests/upstream/test_iam_semantics.py's docstring): moto evaluates identity policies with
``StringEquals`` only and ignores boundaries and key policies; principalmapper no longer imports on
Python 3.10+; iam-ape computes effective permissions, not decisions. So this is the smallest
evaluator the platform's policies need, held to the guide's own examples. Rules and sources
(docs.aws.amazon.com/IAM/latest/UserGuide/):

- reference_policies_evaluation-logic: an explicit Deny in any policy wins; otherwise a request
  needs an Allow. Within one account, "the union of the permissions" of identity and resource
  policies, except that "IAM role trust policies and KMS key policies ... must explicitly allow
  access for principals". Across accounts both sides must allow
  (reference_policies_evaluation-logic-cross-account).
- access_policies_boundaries: identity permissions are cut to the boundary; a resource policy
  naming the role ARN is limited by it, one naming the session (or ``*``, with
  ``aws:PrincipalArn``) is not; ``NotPrincipal`` with Deny always denies a principal with a boundary.
- reference_policies_elements_principal: an account (ID or root ARN) delegates to that account's
  IAM policies; it grants nothing by itself. KMS (kms developer guide, key-policies): "Without
  permission from the key policy, IAM policies that allow permissions have no effect."
- reference_policies_elements_condition_operators: a missing key makes a condition false, a negated
  one (``StringNotEquals``, ``ArnNotLike``...) true; ``...IfExists`` makes it true; ``Null`` tests
  presence. Several values of one key: OR (NOR for negated operators); several keys or operators:
  AND. reference_policies_condition-single-vs-multi-valued-context-keys: ``ForAllValues`` is true
  for a missing or empty key, ``ForAnyValue`` false.
- Actions match case-insensitively, resources case-sensitively, with ``*`` and ``?``
  (reference_policies_elements_action, _resource); ARN operators compare the six parts one by one.
- reference_policies_variables: ``${aws:...}`` in Resource and condition values, from the request's
  context; a variable without a value matches nothing.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Document = Mapping[str, Any]
Context = Mapping[str, Any]


@dataclass(frozen=True)
class Principal:
    """Who makes the request: a role session (or a role, standing for its sessions), or a service."""

    arn: str  # arn:aws:iam::<acct>:role/<name>, arn:aws:sts::<acct>:assumed-role/<name>/<session>, or a service
    has_boundary: bool = False

    @property
    def service(self) -> str | None:
        return None if self.arn.startswith("arn:") else self.arn

    @property
    def federated(self) -> bool:
        """A web-identity or SAML provider (sts:AssumeRoleWithWebIdentity): only a trust policy grants it."""
        return ":oidc-provider/" in self.arn or ":saml-provider/" in self.arn

    @property
    def account(self) -> str | None:
        return None if self.service else self.arn.split(":")[4]

    @property
    def role_arn(self) -> str | None:
        if self.service or self.federated:
            return None
        if ":assumed-role/" in self.arn:
            partition, account, rest = self.arn.split(":")[1], self.arn.split(":")[4], self.arn.split(":", 5)[5]
            return f"arn:{partition}:iam::{account}:role/{rest.split('/')[1]}"
        return self.arn

    @property
    def session_arn(self) -> str | None:
        return self.arn if ":assumed-role/" in self.arn else None


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str

    def __bool__(self) -> bool:
        return self.allowed


def evaluate(  # noqa: PLR0911 - one return per rule of the evaluation logic
    request: Request,
    *,
    identity: Sequence[Document] = (),
    boundary: Document | None = None,
    resource_policy: Document | None = None,
    resource_account: str | None = None,
    key_policy: bool = False,
) -> Decision:
    """The decision for ``request``. ``resource_policy`` is the resource's own policy (a bucket or
    queue policy; with ``key_policy`` a KMS key policy, which must allow for IAM policies to count);
    ``resource_account`` owns the resource (default: the principal's)."""
    if boundary is not None and not request.principal.has_boundary:
        request = Request(Principal(request.principal.arn, True), request.action, request.resource, request.context)
    p, ctx = request.principal, _lower(request.context)
    owner = resource_account or p.account
    for where, doc in (("an identity policy", d) for d in identity):
        if _matches(doc, request, ctx, "Deny"):
            return Decision(False, f"explicit deny in {where}")
    if boundary is not None and _matches(boundary, request, ctx, "Deny"):
        return Decision(False, "explicit deny in the permissions boundary")
    if resource_policy is not None:
        for st in _statements(resource_policy):
            if st.get("Effect") == "Deny" and _statement_applies(st, request, ctx, with_principal=True):
                return Decision(False, f"explicit deny in the resource policy ({st.get('Sid', 'no Sid')})")
    if p.service or p.federated:
        granted = resource_policy is not None and _resource_grants(resource_policy, request, ctx)
        who = "the service" if p.service else "the identity provider"
        return Decision(bool(granted), f"the resource policy allows {who}" if granted else "no allow for it")
    by_identity = any(_matches(doc, request, ctx, "Allow") for doc in identity)
    within_boundary = boundary is None or _matches(boundary, request, ctx, "Allow")
    kinds = _resource_grants(resource_policy, request, ctx) if resource_policy is not None else set()
    identity_path = by_identity and within_boundary
    if owner != p.account:
        ok = identity_path and bool(kinds)
        return Decision(ok, "both accounts allow" if ok else "cross-account needs both the resource and the identity")
    if key_policy:
        ok = "direct" in kinds or ("role" in kinds and within_boundary) or ("account" in kinds and identity_path)
        return Decision(ok, "the key policy allows" if ok else "the key policy does not allow this principal")
    ok = identity_path or "direct" in kinds or ("role" in kinds and within_boundary)
    if ok:
        return Decision(True, "allowed")
    if by_identity and not within_boundary:
        return Decision(False, "the permissions boundary does not allow it")
    return Decision(False, "no policy allows it")


def _lower(context: Context) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in context.items()}


def _statements(doc: Document) -> list[Mapping[str, Any]]:
    st = doc.get("Statement", [])
    return [st] if isinstance(st, Mapping) else list(st)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str | int | float | bool) else list(value)


def _matches(doc: Document, request: Request, ctx: Mapping[str, Any], effect: str) -> bool:
    """An identity-side document (identity policy, boundary): no Principal element."""
    return any(
        st.get("Effect") == effect and _statement_applies(st, request, ctx, with_principal=False, doc=doc)
        for st in _statements(doc)
    )


def _resource_grants(doc: Document, request: Request, ctx: Mapping[str, Any]) -> set[str]:
    """How the resource policy's Allow statements match the principal: ``direct`` (its session, or
    everyone), ``role`` (its role ARN), ``account`` (its account: a delegation to IAM), ``service``."""
    kinds: set[str] = set()
    for st in _statements(doc):
        if st.get("Effect") != "Allow" or not _statement_applies(st, request, ctx, with_principal=False, doc=doc):
            continue
        kinds |= _principal_kinds(st.get("Principal"), request.principal)
    return kinds


def _principal_kinds(element: Any, p: Principal) -> set[str]:
    if element is None:
        return set()
    if element == "*":
        return {"direct"}
    kinds: set[str] = set()
    for kind, values in element.items():
        for v in _listed(values):
            named = (kind == "Service" and p.service) or (kind == "Federated" and p.federated and p.arn)
            if v == "*" or (named and v == named):
                kinds.add("direct")
            elif kind == "AWS" and p.account and v in (p.account, f"arn:aws:iam::{p.account}:root"):
                kinds.add("account")
            elif kind == "AWS" and p.session_arn and v == p.session_arn:
                kinds.add("direct")
            elif kind == "AWS" and p.role_arn and v == p.role_arn:
                kinds.add("role")
    return kinds


def _not_principal_exempts(element: Any, p: Principal) -> bool:
    """NotPrincipal exempts a principal only when its account and its own ARN are both listed, and
    never one with a permissions boundary (reference_policies_elements_notprincipal)."""
    if p.has_boundary:
        return False
    listed = {v for values in element.values() for v in _listed(values)} if isinstance(element, Mapping) else set()
    if p.service:
        return p.service in listed
    account = p.account in listed or f"arn:aws:iam::{p.account}:root" in listed
    return account and bool({p.role_arn, p.session_arn} & listed)


def _statement_applies(  # noqa: PLR0911 - one return per element of a statement
    st: Mapping[str, Any], request: Request, ctx: Mapping[str, Any], *, with_principal: bool, doc: Document = None
) -> bool:
    doc = doc or {}
    variables = doc.get("Version", "2012-10-17") == "2012-10-17"
    if with_principal:
        if "NotPrincipal" in st:
            if _not_principal_exempts(st["NotPrincipal"], request.principal):
                return False
        elif not _principal_kinds(st.get("Principal"), request.principal):
            return False
    if "Action" in st and not any(_glob(a, request.action, case=False) for a in _listed(st["Action"])):
        return False
    if "NotAction" in st and any(_glob(a, request.action, case=False) for a in _listed(st["NotAction"])):
        return False
    if "Resource" in st and not any(
        _glob(r, request.resource, case=True, ctx=ctx, variables=variables) for r in _listed(st["Resource"])
    ):
        return False
    if "NotResource" in st and any(
        _glob(r, request.resource, case=True, ctx=ctx, variables=variables) for r in _listed(st["NotResource"])
    ):
        return False
    return all(
        _condition(op, key, values, ctx, variables)
        for op, block in (st.get("Condition") or {}).items()
        for key, values in block.items()
    )


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _substitute(pattern: str, ctx: Mapping[str, Any], variables: bool) -> str | None:
    """Policy variables replaced by the request's values; None when one has no value."""
    if not variables or "${" not in pattern:
        return pattern
    missing = False

    def value(m: re.Match) -> str:
        nonlocal missing
        name = m.group(1)
        if name in ("*", "?", "$"):
            return {"*": "\0star", "?": "\0qm", "$": "$"}[name]
        found = ctx.get(name.lower())
        if found is None or isinstance(found, list):
            missing = True
            return ""
        return str(found)

    out = _VARIABLE.sub(value, pattern)
    return None if missing else out


def _glob(
    pattern: str, value: str, *, case: bool, ctx: Mapping[str, Any] | None = None, variables: bool = False
) -> bool:
    pattern_s = _substitute(str(pattern), ctx or {}, variables)
    if pattern_s is None:
        return False
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c)
        for c in pattern_s.replace("\0star", "\1").replace("\0qm", "\2")
    )
    regex = regex.replace(re.escape("\1"), r"\*").replace(re.escape("\2"), r"\?")
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _condition(operator: str, key: str, values: Any, ctx: Mapping[str, Any], variables: bool) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    wanted = [_substitute(str(v), ctx, variables) for v in _listed(values)]
    present = key.lower() in ctx
    given = ctx.get(key.lower())
    if op == "Null":
        return any((str(w).lower() == "true") != present for w in wanted)
    if qualifier in ("ForAllValues", "ForAnyValue"):
        items = [] if given is None else _listed(given)
        if qualifier == "ForAllValues":
            return all(_compare(op, item, wanted) for item in items)
        return any(_compare(op, item, wanted) for item in items)
    if not present:
        return if_exists or _negated(op)
    items = _listed(given)
    return any(_compare(op, item, wanted) for item in items)


def _negated(op: str) -> bool:
    return "Not" in op


def _compare(op: str, given: Any, wanted: Iterable[str | None]) -> bool:
    """Whether a context value satisfies the operator for the policy's values (OR over them; NOR
    for the negated operators)."""
    base = op.replace("Not", "", 1) if _negated(op) else op
    hit = any(w is not None and _one(base, given, w) for w in wanted)
    return not hit if _negated(op) else hit


def _one(op: str, given: Any, wanted: str) -> bool:  # noqa: PLR0911
    g = str(given).lower() if isinstance(given, bool) else str(given)
    if op == "StringEquals":
        return g == wanted
    if op == "StringEqualsIgnoreCase":
        return g.lower() == wanted.lower()
    if op == "StringLike":
        return _glob(wanted, g, case=True)
    if op == "Bool":
        return g.lower() == wanted.lower()
    if op in ("ArnEquals", "ArnLike"):
        return _arn_like(wanted, g)
    if op.startswith("Numeric"):
        return _ordered(op.removeprefix("Numeric"), float(g), float(wanted))
    if op.startswith("Date"):
        return _ordered(op.removeprefix("Date"), _date(g), _date(wanted))
    if op == "IpAddress":
        return ipaddress.ip_address(g) in ipaddress.ip_network(wanted, strict=False)
    if op == "BinaryEquals":
        return g == wanted
    raise ValueError(f"condition operator {op!r} is not modelled")


def _ordered(relation: str, a: Any, b: Any) -> bool:
    return {
        "Equals": a == b,
        "LessThan": a < b,
        "LessThanEquals": a <= b,
        "GreaterThan": a > b,
        "GreaterThanEquals": a >= b,
    }[relation]


def _date(value: str) -> dt.datetime:
    if value.isdigit():
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _arn_like(pattern: str, arn: str) -> bool:
    """Each of the six colon-separated parts matched on its own (the last keeps its colons)."""
    p, a = pattern.split(":", 5), arn.split(":", 5)
    if len(p) != 6 or len(a) != 6:
        return fnmatch.fnmatchcase(arn, pattern)
    return all(_glob(x, y, case=True) for x, y in zip(p, a, strict=True))
