"""The access tests can fail: grants broken the way grants really break are caught by moto."""

from __future__ import annotations

import json

from pipelines.plan import Plan
from tests.access.lab import DENIED, AccessLab
from tests.access.test_access_matrix import OBJ, get, put
from tests.plans import settings_of, stack_plan

TEAM = settings_of("dev").training.teams[0].name


def _broken_dev_plan() -> Plan:
    plan = Plan.from_dict(json.loads(stack_plan("dev").to_json()))
    curated, raw = plan.outputs["buckets"]["curated"], plan.outputs["buckets"]["raw"]
    for rp in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        doc = json.loads(rp.inputs["policy"])
        for st in doc["Statement"]:
            if rp.name == f"identity-training-{TEAM}" and st["Sid"] == "ReadLakeCuratedObjects":
                st["Resource"] = st["Resource"].removesuffix("/*")  # the classic missing /*
            if rp.name == "identity-feature-ingestion" and st["Sid"] == "WriteLakeCuratedObjects":
                st["Resource"] = st["Resource"].replace(curated, raw)  # the wrong bucket
        rp.inputs["policy"] = json.dumps(doc)
    return plan


def test_a_missing_slash_star_and_a_wrong_bucket_are_denied():
    with AccessLab(_broken_dev_plan()).running() as lab:
        assert lab.attempt(f"training-{TEAM}", get("curated", OBJ)) == DENIED
        assert lab.attempt("feature-ingestion", put("curated", "data/new")) == DENIED
        # ...while the grants nobody broke still work
        assert lab.attempt("feature-ingestion", get("raw", OBJ)) is None
