"""What the components stand on, and what the policy pack judges with: the naming and tagging
conventions (``conventions``), the IAM building blocks (``iam``) and the upstream facts with their
sources (``upstream``). Nothing here imports a component, the program or the pipelines
(docs/architecture.md)."""
