"""IAM building blocks, below the components: the policy-document model (``documents``), the ARN
patterns of one environment (``scope``), facts about actions (``actions``), trust statements
(``trust``, ``github``), the service-role helper and policy sizing (``roles``), the permission
boundaries (``boundaries``) and the CI roles' grants derived from the provider-actions table (``ci``).

A component writes the grants for what it owns with these; the policy pack checks generated policies
against the same facts."""
