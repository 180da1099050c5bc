"""The in-cluster project: a separate Pulumi project (``cluster/Pulumi.yaml``, ``mlplatform-cluster``)
for what is applied through each stack's private Kubernetes API. Its composition root is
``infra/in_cluster.py``; it shares the platform's stack files (``stackConfigDir: ../stacks``)."""
