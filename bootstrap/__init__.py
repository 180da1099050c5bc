"""The account bootstrap: a separate Pulumi project (``bootstrap/Pulumi.yaml``) run once per account.

It creates what the platform's stacks need before their first ``pulumi up``: the state bucket, the
secrets key, the GitHub OIDC provider and the admin and approver roles (docs/bootstrap.md).
"""
