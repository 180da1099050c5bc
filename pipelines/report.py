"""Policy verdicts of `mlplatform check` for machines and reviewers: JSON, Markdown, and SARIF 2.1.0
(the format GitHub code scanning reads: upload it with github/codeql-action/upload-sarif and the
violations appear on the pull request). SARIF fields follow the OASIS SARIF 2.1.0 specification
(sarifLog -> runs[] -> tool.driver.rules[], results[] with ruleId, level, message, locations)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.policy_check import Violation

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def as_json(results: Mapping[str, Sequence[Violation]], rules: Sequence[Any]) -> str:
    return (
        json.dumps(
            {
                "rules": len(rules),
                "stacks": {
                    stack: [
                        {"rule": v.rule, "mandatory": v.mandatory, "path": v.path, "urn": v.urn, "message": v.message}
                        for v in found
                    ]
                    for stack, found in results.items()
                },
            },
            indent=2,
        )
        + "\n"
    )


def as_markdown(results: Mapping[str, Sequence[Violation]], rules: Sequence[Any]) -> str:
    lines = [f"### Policy check ({len(rules)} rules)", "", "| stack | mandatory | advisory |", "|---|---|---|"]
    for stack, found in results.items():
        mandatory = sum(v.mandatory for v in found)
        lines.append(f"| {stack} | {mandatory} | {len(found) - mandatory} |")
    for stack, found in results.items():
        if found:
            lines += ["", f"**{stack}**", ""]
            lines += [
                f"- `{v.rule}` ({'mandatory' if v.mandatory else 'advisory'}) {v.path}: {v.message}" for v in found
            ]
    return "\n".join(lines) + "\n"


def as_sarif(results: Mapping[str, Sequence[Violation]], rules: Sequence[Any], version: str) -> str:
    """One run; each violation a result located in the stack file that configured the resource, with
    the resource's path and URN as its logical location."""
    ordered = sorted(rules, key=lambda r: r.name)
    index = {r.name: i for i, r in enumerate(ordered)}
    sarif_results = []
    for stack, found in results.items():
        for v in found:
            sarif_results.append(
                {
                    "ruleId": v.rule,
                    "ruleIndex": index.get(v.rule, -1),
                    "level": "error" if v.mandatory else "warning",
                    "message": {"text": f"{stack}: {v.path}: {v.message}"},
                    "locations": [
                        {
                            "physicalLocation": {"artifactLocation": {"uri": f"stacks/Pulumi.{stack}.yaml"}},
                            "logicalLocations": [{"fullyQualifiedName": v.urn or stack, "kind": "resource"}],
                        }
                    ],
                }
            )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mlplatform",
                        "version": version,
                        "rules": [
                            {
                                "id": r.name,
                                "shortDescription": {"text": r.description},
                                "defaultConfiguration": {
                                    "level": "error" if r.enforcement_level.value == "mandatory" else "warning"
                                },
                            }
                            for r in ordered
                        ],
                    }
                },
                "results": sarif_results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
