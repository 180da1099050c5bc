"""Faithful models of how Helm, the Kubernetes scheduler and NetworkPolicies decide, small enough to
read, so that checks can evaluate what the plan renders instead of comparing it with what we wrote.
Each model states its source and is tested on the examples of that source."""
