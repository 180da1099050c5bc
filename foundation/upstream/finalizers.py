"""Objects that carry a finalizer only a controller removes: while one exists, deleting it (or the
namespace that holds it) waits for that controller. So what holds such objects must be deleted
before the controller's Helm release (tests/upstream/test_runbook.py checks it on the engine's order).

Pulumi resource type -> (the controller's Helm release, what it holds, source).
"""

from __future__ import annotations

CONTROLLERS = {
    # Deleting a team namespace deletes the RayJobs users submitted there (examples/rayjob).
    "kubernetes:core/v1:Namespace": (
        "kuberay-operator",
        "RayJobs with ray.io/rayjob-finalizer",
        "ray-project/kuberay v1.5.1 ray-operator/controllers/ray/utils/constant.go RayJobStopJobFinalizer; "
        "rayjob_controller.go adds it on the first reconcile and removes it after StopJob",
    ),
    # pulumi-kubernetes deletes with foreground propagation (metadata/overrides.go DeletionPropagation), so a
    # NodePool waits for its NodeClaims (ownerReferences, BlockOwnerDeletion), each finalized by Karpenter.
    "kubernetes:karpenter.sh/v1:NodePool": (
        "karpenter",
        "NodeClaims and nodes with karpenter.sh/termination",
        "kubernetes-sigs/karpenter v1.11.1 pkg/apis/v1/labels.go TerminationFinalizer; "
        "pkg/controllers/nodeclaim/lifecycle/controller.go finalize (terminates the instance)",
    ),
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": (
        "karpenter",
        "karpenter.k8s.aws/termination on itself",
        "aws/karpenter-provider-aws v1.11.1 pkg/controllers/nodeclass/controller.go finalize "
        "(waits for its NodeClaims, deletes its instance profiles and launch templates)",
    ),
}
