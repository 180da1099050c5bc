"""Karpenter, at the chart and controller version the stacks pin.

Source of every fact here: aws/karpenter-provider-aws, tag v1.11.1 (commit 77c16135), file
website/content/en/v1.11/getting-started/getting-started-with-karpenter/cloudformation.yaml
(published at https://karpenter.sh/v1.11/getting-started/getting-started-with-karpenter/cloudformation.yaml),
unless a fact names another. Re-verify all of it when ``VERSION`` changes.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = "1.11.1"

# The controller's IAM statements, verbatim from the five managed policies of cloudformation.yaml
# (NodeLifecycle, IAMIntegration, EKSIntegration, Interruption, ResourceDiscovery): 17 statements.
# ``${KarpenterNodeRole.Arn}`` and ``${KarpenterInterruptionQueue.Arn}`` are the template's own refs.
# The finalizer of an EC2NodeClass lists instance profiles (AllowUnscopedInstanceProfileListAction):
# without it a `pulumi destroy` hangs on the EC2NodeClass.
CONTROLLER_POLICY_TEMPLATE = json.loads(
    r"""[
    {
        "Sid": "AllowScopedEC2InstanceAccessActions",
        "Effect": "Allow",
        "Resource": [
            "arn:${AWS::Partition}:ec2:${AWS::Region}::image/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:security-group/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:subnet/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:capacity-reservation/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:placement-group/*"
        ],
        "Action": [
            "ec2:RunInstances",
            "ec2:CreateFleet"
        ]
    },
    {
        "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*",
        "Action": [
            "ec2:RunInstances",
            "ec2:CreateFleet"
        ],
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"
            },
            "StringLike": {
                "aws:ResourceTag/karpenter.sh/nodepool": "*"
            }
        }
    },
    {
        "Sid": "AllowScopedEC2InstanceActionsWithTags",
        "Effect": "Allow",
        "Resource": [
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:fleet/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:volume/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:network-interface/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:spot-instances-request/*"
        ],
        "Action": [
            "ec2:RunInstances",
            "ec2:CreateFleet",
            "ec2:CreateLaunchTemplate"
        ],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}"
            },
            "StringLike": {
                "aws:RequestTag/karpenter.sh/nodepool": "*"
            }
        }
    },
    {
        "Sid": "AllowScopedResourceCreationTagging",
        "Effect": "Allow",
        "Resource": [
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:fleet/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:volume/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:network-interface/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:spot-instances-request/*"
        ],
        "Action": "ec2:CreateTags",
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                "ec2:CreateAction": [
                    "RunInstances",
                    "CreateFleet",
                    "CreateLaunchTemplate"
                ]
            },
            "StringLike": {
                "aws:RequestTag/karpenter.sh/nodepool": "*"
            }
        }
    },
    {
        "Sid": "AllowScopedResourceTagging",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
        "Action": "ec2:CreateTags",
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"
            },
            "StringLike": {
                "aws:ResourceTag/karpenter.sh/nodepool": "*"
            },
            "StringEqualsIfExists": {
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}"
            },
            "ForAllValues:StringEquals": {
                "aws:TagKeys": [
                    "eks:eks-cluster-name",
                    "karpenter.sh/nodeclaim",
                    "Name"
                ]
            }
        }
    },
    {
        "Sid": "AllowScopedDeletion",
        "Effect": "Allow",
        "Resource": [
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*",
            "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*"
        ],
        "Action": [
            "ec2:TerminateInstances",
            "ec2:DeleteLaunchTemplate"
        ],
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"
            },
            "StringLike": {
                "aws:ResourceTag/karpenter.sh/nodepool": "*"
            }
        }
    },
    {
        "Sid": "AllowPassingInstanceRole",
        "Effect": "Allow",
        "Resource": "${KarpenterNodeRole.Arn}",
        "Action": "iam:PassRole",
        "Condition": {
            "StringEquals": {
                "iam:PassedToService": [
                    "ec2.amazonaws.com",
                    "ec2.amazonaws.com.cn"
                ]
            }
        }
    },
    {
        "Sid": "AllowScopedInstanceProfileCreationActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
        "Action": [
            "iam:CreateInstanceProfile"
        ],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}"
            },
            "StringLike": {
                "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"
            }
        }
    },
    {
        "Sid": "AllowScopedInstanceProfileTagActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
        "Action": [
            "iam:TagInstanceProfile"
        ],
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned",
                "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}",
                "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}"
            },
            "StringLike": {
                "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"
            }
        }
    },
    {
        "Sid": "AllowScopedInstanceProfileActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
        "Action": [
            "iam:AddRoleToInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:DeleteInstanceProfile"
        ],
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned",
                "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}"
            },
            "StringLike": {
                "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"
            }
        }
    },
    {
        "Sid": "AllowAPIServerEndpointDiscovery",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}",
        "Action": "eks:DescribeCluster"
    },
    {
        "Sid": "AllowInterruptionQueueActions",
        "Effect": "Allow",
        "Resource": "${KarpenterInterruptionQueue.Arn}",
        "Action": [
            "sqs:DeleteMessage",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage"
        ]
    },
    {
        "Sid": "AllowRegionalReadActions",
        "Effect": "Allow",
        "Resource": "*",
        "Action": [
            "ec2:DescribeCapacityReservations",
            "ec2:DescribeImages",
            "ec2:DescribeInstances",
            "ec2:DescribeInstanceTypeOfferings",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplates",
            "ec2:DescribePlacementGroups",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSpotPriceHistory",
            "ec2:DescribeSubnets"
        ],
        "Condition": {
            "StringEquals": {
                "aws:RequestedRegion": "${AWS::Region}"
            }
        }
    },
    {
        "Sid": "AllowSSMReadActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}::parameter/aws/service/*",
        "Action": "ssm:GetParameter"
    },
    {
        "Sid": "AllowPricingReadActions",
        "Effect": "Allow",
        "Resource": "*",
        "Action": "pricing:GetProducts"
    },
    {
        "Sid": "AllowUnscopedInstanceProfileListAction",
        "Effect": "Allow",
        "Resource": "*",
        "Action": "iam:ListInstanceProfiles"
    },
    {
        "Sid": "AllowInstanceProfileReadActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*",
        "Action": "iam:GetInstanceProfile"
    }
]"""
)

# The EventBridge rules the template routes to the interruption queue (ScheduledChangeRule,
# SpotInterruptionRule, RebalanceRule, InstanceStateChangeRule, CapacityReservationInterruptionRule).
INTERRUPTION_EVENTS: dict[str, dict[str, list[str]]] = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "capacity-reservation": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}
# The queue: MessageRetentionPeriod 300, SqsManagedSseEnabled true (KarpenterInterruptionQueue).
QUEUE_RETENTION_SECONDS = 300


def controller_policy(
    *, partition: str, region: str, account: str, cluster: str, node_role_arn: str, queue_arn: str
) -> list[dict[str, Any]]:
    """The official controller statements for one cluster, with the template's parameters filled in."""
    values = {
        "${AWS::Partition}": partition,
        "${AWS::Region}": region,
        "${AWS::AccountId}": account,
        "${ClusterName}": cluster,
        "${KarpenterNodeRole.Arn}": node_role_arn,
        "${KarpenterInterruptionQueue.Arn}": queue_arn,
    }
    text = json.dumps(CONTROLLER_POLICY_TEMPLATE)
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    if "${" in text:
        raise ValueError(f"unfilled parameter in the Karpenter policy template: {text[text.index('${') :][:40]}")
    return json.loads(text)
