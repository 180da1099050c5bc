"""The IAM evaluator (pipelines/semantics/iam.py) on the IAM User Guide's own examples and rules.

Why our own evaluator: a survey of what exists (2026-12) found no maintained Python library that
decides requests with IAM's semantics. moto 5.2 evaluates identity policies with ``StringEquals``
only (any other operator counts as met, so every conditioned Deny applies), and has no boundaries
and no key policies; principalmapper (AGPL, last release 2022) does not import on Python 3.10+ and
treats NotPrincipal and role-ARN grants under a boundary wrongly; iam-ape, policyuniverse,
parliament, cloudsplaining and policy_sentry have no request evaluator; the best evaluator found,
the npm package @cloud-copilot/iam-simulate, is AGPL and fails the NotPrincipal example below.

Each case names the guide page (docs.aws.amazon.com/IAM/latest/UserGuide/<page>) whose sentence
decides it. Principals are role sessions; a role ARN stands for its sessions.
"""

from __future__ import annotations

import pytest

from pipelines.semantics.iam import Principal, Request, evaluate

ACCT, OTHER = "111122223333", "444455556666"
ROLE = f"arn:aws:iam::{ACCT}:role/app"
ROLE2 = f"arn:aws:iam::{ACCT}:role/other"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/session1"
XROLE = f"arn:aws:iam::{OTHER}:role/reader"
BUCKET = "arn:aws:s3:::demo-bucket"
OBJ = BUCKET + "/key.txt"
KEY = f"arn:aws:kms:eu-west-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SVC = "cloudtrail.amazonaws.com"
VIA_S3 = {"kms:ViaService": "s3.eu-west-1.amazonaws.com", "kms:CallerAccount": ACCT}


def pol(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_S3 = pol({"Effect": "Allow", "Action": "s3:*", "Resource": [BUCKET, BUCKET + "/*"]})
GET_ONLY = pol({"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET + "/*"})
LIST_ONLY = pol({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
SSE_DENY = pol(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": BUCKET + "/*",
        "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }
)
NULL_TOKEN = pol(
    {"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": "true"}}}
)
FOR_ALL = pol(
    {
        "Effect": "Allow",
        "Action": "iam:TagUser",
        "Resource": "*",
        "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": "key1*"}},
    }
)
FOR_ANY = pol(
    {
        "Effect": "Allow",
        "Action": "iam:TagUser",
        "Resource": "*",
        "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "key1*"}},
    }
)
NOT_PRINCIPAL = pol(
    {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [ROLE, f"arn:aws:iam::{ACCT}:root"]},
        "Action": "s3:*",
        "Resource": [BUCKET, BUCKET + "/*"],
    }
)
BP_ROLE = pol({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": BUCKET + "/*"})
BP_ACCOUNT = pol(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject", "Resource": OBJ}
)
KEY_OTHER_ROLE = pol({"Effect": "Allow", "Principal": {"AWS": ROLE2}, "Action": "kms:*", "Resource": "*"})
KEY_ROOT = pol(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*", "Resource": "*"}
)
KMS_VIA_S3 = pol(
    {
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    }
)
TLS_DENY = pol(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET, BUCKET + "/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)
NOT_LIKE_DENY = pol(
    {
        "Effect": "Deny",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringNotLike": {"aws:PrincipalTag/team": "data*"}},
    }
)
TEAM_PREFIX = pol({"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET + "/${aws:PrincipalTag/team}/*"})
BP_SERVICE = pol(
    {
        "Effect": "Allow",
        "Principal": {"Service": SVC},
        "Action": "s3:PutObject",
        "Resource": BUCKET + "/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCT}},
    }
)
BP_OTHER_SERVICE = pol(
    {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject", "Resource": OBJ}
)
MAX_KEYS = pol(
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
        "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}},
    }
)
FROM_RANGE = pol(
    {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": BUCKET + "/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    }
)
AFTER_2025 = pol(
    {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": BUCKET + "/*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}},
    }
)
ARN_NOT_LIKE_DENY = pol(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": BUCKET + "/*",
        "Condition": {"ArnNotLike": {"aws:SourceArn": f"arn:aws:cloudfront::{ACCT}:distribution/*"}},
    }
)
NOT_ACTION_DENY = pol({"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"})
NOT_RESOURCE = pol({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": BUCKET + "/secret/*"})
CASE_DENY = pol({"Effect": "Deny", "Action": "s3:GetObject", "Resource": BUCKET + "/Private/*"})
TEAM_LIST = pol(
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
        "Condition": {"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}/*"}},
    }
)
ANY_WITH_PRINCIPAL_ARN = pol(
    {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": BUCKET + "/*",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": ROLE}},
    }
)

OPERATORS = "reference_policies_elements_condition_operators"
MULTI = "reference_policies_condition-single-vs-multi-valued-context-keys"
LOGIC = "reference_policies_evaluation-logic"
BOUNDARIES = "access_policies_boundaries"
# (page, name, expected, action, resource, identity, boundary, resource policy, principal, context, key policy)
CASES = [
    (OPERATORS, "IfExists deny, header absent", False, "s3:PutObject", OBJ, [ALLOW_S3], None, SSE_DENY, ROLE, {}, 0),
    (OPERATORS, "IfExists deny, aws:kms", True, "s3:PutObject", OBJ, [ALLOW_S3], None, SSE_DENY, ROLE,
     {"s3:x-amz-server-side-encryption": "aws:kms"}, 0),
    (OPERATORS, "IfExists deny, AES256", False, "s3:PutObject", OBJ, [ALLOW_S3], None, SSE_DENY, ROLE,
     {"s3:x-amz-server-side-encryption": "AES256"}, 0),
    (OPERATORS, "Null: no token time", True, "ec2:RunInstances", "*", [NULL_TOKEN], None, None, ROLE, {}, 0),
    (OPERATORS, "Null: temporary credentials", False, "ec2:RunInstances", "*", [NULL_TOKEN], None, None, ROLE,
     {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, 0),
    (MULTI, "ForAllValues, key missing", True, "iam:TagUser", "*", [FOR_ALL], None, None, ROLE, {}, 0),
    (MULTI, "ForAllValues, empty", True, "iam:TagUser", "*", [FOR_ALL], None, None, ROLE, {"aws:TagKeys": []}, 0),
    (MULTI, "ForAllValues, one off", False, "iam:TagUser", "*", [FOR_ALL], None, None, ROLE,
     {"aws:TagKeys": ["key1a", "key2"]}, 0),
    (MULTI, "ForAnyValue, key missing", False, "iam:TagUser", "*", [FOR_ANY], None, None, ROLE, {}, 0),
    (MULTI, "ForAnyValue, empty", False, "iam:TagUser", "*", [FOR_ANY], None, None, ROLE, {"aws:TagKeys": []}, 0),
    (MULTI, "ForAnyValue, one on", True, "iam:TagUser", "*", [FOR_ANY], None, None, ROLE,
     {"aws:TagKeys": ["key2", "key1a"]}, 0),
    (BOUNDARIES, "boundary cuts PutObject", False, "s3:PutObject", OBJ, [ALLOW_S3], GET_ONLY, None, ROLE, {}, 0),
    (BOUNDARIES, "boundary keeps GetObject", True, "s3:GetObject", OBJ, [ALLOW_S3], GET_ONLY, None, ROLE, {}, 0),
    ("reference_policies_elements_notprincipal", "NotPrincipal exempts the listed role", True, "s3:GetObject", OBJ,
     [ALLOW_S3], None, NOT_PRINCIPAL, ROLE, {}, 0),
    ("reference_policies_elements_notprincipal", "NotPrincipal denies another role of the account", False,
     "s3:GetObject", OBJ, [ALLOW_S3], None, NOT_PRINCIPAL, ROLE2, {}, 0),
    ("reference_policies_elements_notprincipal", "NotPrincipal always denies a role with a boundary", False,
     "s3:GetObject", OBJ, [ALLOW_S3], ALLOW_S3, NOT_PRINCIPAL, ROLE, {}, 0),
    (LOGIC, "same account: the bucket policy alone", True, "s3:GetObject", OBJ, [], None, BP_ROLE, ROLE, {}, 0),
    (BOUNDARIES, "role-ARN grant cut by the boundary", False, "s3:GetObject", OBJ, [], LIST_ONLY, BP_ROLE, ROLE, {}, 0),
    (LOGIC, "session of the named role", True, "s3:GetObject", OBJ, [], None, BP_ROLE, SESSION, {}, 0),
    (BOUNDARIES, "session, role-ARN grant, boundary", False, "s3:GetObject", OBJ, [], LIST_ONLY, BP_ROLE, SESSION,
     {}, 0),
    (BOUNDARIES, "Principal * with aws:PrincipalArn is not cut", True, "s3:GetObject", OBJ, [], LIST_ONLY,
     ANY_WITH_PRINCIPAL_ARN, SESSION, {"aws:PrincipalArn": ROLE}, 0),
    (LOGIC, "key policy without the account: IAM has no effect", False, "kms:Decrypt", KEY, [KMS_VIA_S3], None,
     KEY_OTHER_ROLE, ROLE, VIA_S3, 1),
    (LOGIC, "key policy for the account: IAM allows through S3", True, "kms:Decrypt", KEY, [KMS_VIA_S3], None,
     KEY_ROOT, ROLE, VIA_S3, 1),
    (LOGIC, "key policy for the account: not through S3", False, "kms:Decrypt", KEY, [KMS_VIA_S3], None, KEY_ROOT,
     ROLE, {"kms:CallerAccount": ACCT}, 1),
    ("reference_policies_evaluation-logic-cross-account", "cross account, both allow", True, "s3:GetObject", OBJ,
     [GET_ONLY], None, BP_ACCOUNT, XROLE, {}, 0),
    ("reference_policies_evaluation-logic-cross-account", "cross account, no identity policy", False,
     "s3:GetObject", OBJ, [], None, BP_ACCOUNT, XROLE, {}, 0),
    ("reference_policies_condition-keys", "TLS deny on HTTP", False, "s3:GetObject", OBJ, [ALLOW_S3], None,
     TLS_DENY, ROLE, {"aws:SecureTransport": "false"}, 0),
    ("reference_policies_condition-keys", "TLS deny on HTTPS", True, "s3:GetObject", OBJ, [ALLOW_S3], None,
     TLS_DENY, ROLE, {"aws:SecureTransport": "true"}, 0),
    (OPERATORS, "negated operator, key missing", False, "s3:GetObject", OBJ, [ALLOW_S3, NOT_LIKE_DENY], None, None,
     ROLE, {}, 0),
    ("reference_policies_variables", "variable in Resource, matches", True, "s3:GetObject", BUCKET + "/data/x",
     [TEAM_PREFIX], None, None, ROLE, {"aws:PrincipalTag/team": "data"}, 0),
    ("reference_policies_variables", "variable in Resource, other value", False, "s3:GetObject", BUCKET + "/data/x",
     [TEAM_PREFIX], None, None, ROLE, {"aws:PrincipalTag/team": "ops"}, 0),
    ("reference_policies_variables", "variable without a value", False, "s3:GetObject", BUCKET + "/data/x",
     [TEAM_PREFIX], None, None, ROLE, {}, 0),
    ("reference_policies_variables", "variable in a condition, matches", True, "s3:ListBucket", BUCKET, [TEAM_LIST],
     None, None, ROLE, {"aws:PrincipalTag/team": "data", "s3:prefix": "data/x"}, 0),
    ("reference_policies_variables", "variable in a condition, other value", False, "s3:ListBucket", BUCKET,
     [TEAM_LIST], None, None, ROLE, {"aws:PrincipalTag/team": "ops", "s3:prefix": "data/x"}, 0),
    ("reference_policies_elements_principal", "service named, source account", True, "s3:PutObject", OBJ, [], None,
     BP_SERVICE, SVC, {"aws:SourceAccount": ACCT}, 0),
    ("reference_policies_elements_principal", "service named, other source account", False, "s3:PutObject", OBJ,
     [], None, BP_SERVICE, SVC, {"aws:SourceAccount": OTHER}, 0),
    ("reference_policies_elements_principal", "another service", False, "s3:PutObject", OBJ, [], None,
     BP_OTHER_SERVICE, SVC, {}, 0),
    (OPERATORS, "NumericLessThanEquals within", True, "s3:ListBucket", BUCKET, [MAX_KEYS], None, None, ROLE,
     {"s3:max-keys": "5"}, 0),
    (OPERATORS, "NumericLessThanEquals above", False, "s3:ListBucket", BUCKET, [MAX_KEYS], None, None, ROLE,
     {"s3:max-keys": "50"}, 0),
    (OPERATORS, "IpAddress inside", True, "s3:GetObject", OBJ, [FROM_RANGE], None, None, ROLE,
     {"aws:SourceIp": "203.0.113.7"}, 0),
    (OPERATORS, "IpAddress outside", False, "s3:GetObject", OBJ, [FROM_RANGE], None, None, ROLE,
     {"aws:SourceIp": "198.51.100.7"}, 0),
    (OPERATORS, "DateGreaterThan after", True, "s3:GetObject", OBJ, [AFTER_2025], None, None, ROLE,
     {"aws:CurrentTime": "2026-06-01T00:00:00Z"}, 0),
    (OPERATORS, "DateGreaterThan before", False, "s3:GetObject", OBJ, [AFTER_2025], None, None, ROLE,
     {"aws:CurrentTime": "2024-06-01T00:00:00Z"}, 0),
    (OPERATORS, "ArnNotLike deny, key missing", False, "s3:GetObject", OBJ, [ALLOW_S3], None, ARN_NOT_LIKE_DENY,
     ROLE, {}, 0),
    ("reference_policies_elements_notaction", "NotAction deny spares GetObject", True, "s3:GetObject", OBJ,
     [ALLOW_S3, NOT_ACTION_DENY], None, None, ROLE, {}, 0),
    ("reference_policies_elements_notaction", "NotAction deny hits PutObject", False, "s3:PutObject", OBJ,
     [ALLOW_S3, NOT_ACTION_DENY], None, None, ROLE, {}, 0),
    ("reference_policies_elements_notresource", "NotResource excludes", False, "s3:GetObject", BUCKET + "/secret/a",
     [NOT_RESOURCE], None, None, ROLE, {}, 0),
    ("reference_policies_elements_notresource", "NotResource elsewhere", True, "s3:GetObject", BUCKET + "/public/a",
     [NOT_RESOURCE], None, None, ROLE, {}, 0),
    ("reference_policies_elements_resource", "Resource is case-sensitive", True, "s3:GetObject",
     BUCKET + "/private/a", [ALLOW_S3, CASE_DENY], None, None, ROLE, {}, 0),
    ("reference_policies_elements_action", "Action is case-insensitive", True, "S3:getobject", OBJ, [GET_ONLY], None,
     None, ROLE, {}, 0),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_the_guide_decides(case):
    _page, _, expected, action, resource, identity, boundary, rp, who, context, key = case
    decision = evaluate(
        Request(Principal(who), action, resource, context),
        identity=identity,
        boundary=boundary,
        resource_policy=rp,
        resource_account=ACCT,
        key_policy=bool(key),
    )
    assert decision.allowed is expected, decision.why
