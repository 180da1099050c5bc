"""`mlplatform prices refresh`: rebuild the instance prices of ``infra/prices.json`` from the AWS
Price List, the public offer files AWS publishes per service and region.

The offer file is JSON (AWS Billing guide, "Reading the service price list file"): ``products``
keyed by SKU with ``productFamily`` and ``attributes``, and ``terms.OnDemand[sku][offerTermCode]
.priceDimensions[rateCode].pricePerUnit.USD``. An instance's Linux on-demand price is the product
whose attributes match what Karpenter's price lookup filters on (aws/karpenter-provider-aws
v1.11.1 pkg/providers/pricing/pricing.go): regionCode, operatingSystem Linux, preInstalledSw NA,
capacitystatus Used, tenancy Shared and productFamily "Compute Instance" (bare metal: tenancy
Dedicated and "Compute Instance (bare metal)"). Only the types of ``instance_specs`` are kept.

Only EC2 instance prices are refreshed: the other figures (service fees) keep their sources; the
SageMaker offer file's attributes were not verified and are not parsed (docs/cost.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.cost import PRICES_FILE

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/{region}/index.json"
MATCH = {"operatingSystem": "Linux", "preInstalledSw": "NA", "capacitystatus": "Used"}
FAMILIES = {"Compute Instance": "Shared", "Compute Instance (bare metal)": "Dedicated"}


class OfferFileError(Exception):
    pass


def ec2_prices(offer: Mapping[str, Any], region: str, wanted: set[str]) -> dict[str, float]:
    """Linux on-demand USD per hour of the ``wanted`` instance types in an AmazonEC2 offer file."""
    try:
        products, on_demand = offer["products"], offer["terms"]["OnDemand"]
    except (KeyError, TypeError):
        raise OfferFileError("not an AWS Price List offer file (no products and terms.OnDemand)") from None
    found: dict[str, float] = {}
    for sku, product in products.items():
        a = product.get("attributes") or {}
        itype = a.get("instanceType")
        family = product.get("productFamily")
        if itype not in wanted or family not in FAMILIES or a.get("tenancy") != FAMILIES[family]:
            continue
        if a.get("regionCode", region) != region or any(a.get(k) != v for k, v in MATCH.items()):
            continue
        for term in (on_demand.get(sku) or {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                usd = float((dimension.get("pricePerUnit") or {}).get("USD", 0) or 0)
                if usd > 0 and dimension.get("unit", "Hrs") == "Hrs":
                    found[itype] = usd
    return found


def refresh(region: str, offer: Mapping[str, Any], source: str, path: Path = PRICES_FILE) -> dict[str, Any]:
    """Replace the region's EC2 prices with the offer file's; returns what changed."""
    table = json.loads(path.read_text())
    wanted = set(table["instance_specs"])
    found = ec2_prices(offer, region, wanted)
    if not found:
        raise OfferFileError(
            f"the offer file has no Linux on-demand price of the platform's instance types in {region}"
        )
    published = offer.get("publicationDate", "?")
    regional = table["regions"].setdefault(region, {"ec2": {}, "sagemaker": {}, "items": {}})
    before = {t: e["usd"] for t, e in regional["ec2"].items()}
    regional["ec2"] = {
        t: {"usd": usd, "status": "primary", "source": f"AWS Price List {source} (publicationDate {published})"}
        for t, usd in sorted(found.items())
    }
    table["as_of"] = str(published)[:10]
    path.write_text(json.dumps(table, indent=2) + "\n")
    return {
        "added": sorted(set(found) - set(before)),
        "removed": sorted(set(before) - set(found)),
        "changed": sorted(t for t in set(found) & set(before) if found[t] != before[t]),
        "count": len(found),
    }


def download(region: str) -> tuple[dict[str, Any], str]:  # pragma: no cover - needs the network
    import urllib.request

    url = OFFER_URL.format(region=region)
    with urllib.request.urlopen(url, timeout=300) as response:
        return json.load(response), url
