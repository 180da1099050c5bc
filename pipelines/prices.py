"""`mlplatform prices refresh`: rebuild the instance prices of ``infra/prices.json`` from the AWS
Price List, the public offer files AWS publishes per service and region.

The offer file is JSON (AWS Billing guide, "Reading the service price list file"): ``products``
keyed by SKU with ``productFamily`` and ``attributes``, and ``terms.OnDemand[sku][offerTermCode]
.priceDimensions[rateCode].pricePerUnit.USD``. An instance's Linux on-demand price is the product
whose attributes match what Karpenter's price lookup filters on (aws/karpenter-provider-aws
v1.11.1 pkg/providers/pricing/pricing.go): regionCode, operatingSystem Linux, preInstalledSw NA,
capacitystatus Used, tenancy Shared and productFamily "Compute Instance" (bare metal: tenancy
Dedicated and "Compute Instance (bare metal)"). Only the types of ``instance_specs`` are kept.

A refresh never loses a price silently: a type of the region's table that the offer file has no
price for is a removal, and removals are refused (:class:`RemovalRefusedError`, nothing written) unless
asked for with ``prune``. The table is written atomically (a temporary file in its directory, then
``os.replace``), so an interrupted refresh leaves the old table, never half of a new one.

Only EC2 instance prices are refreshed: the other figures (service fees) keep their sources; the
SageMaker offer file's attributes were not verified and are not parsed (docs/cost.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from infra.cost import PRICES_FILE

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/{region}/index.json"
EXPECTED = (
    'expected an AWS Price List offer file: JSON with "products" and "terms", as downloaded from '
    + OFFER_URL.format(region="<region>")
)
MATCH = {"operatingSystem": "Linux", "preInstalledSw": "NA", "capacitystatus": "Used"}
FAMILIES = {"Compute Instance": "Shared", "Compute Instance (bare metal)": "Dedicated"}


class PricesError(Exception):
    """A refresh that cannot run (a bad region, an unreadable table): nothing was written."""


class OfferFileError(PricesError):
    """The offer file cannot be read or is not an AmazonEC2 offer file: nothing was written."""


@dataclass(frozen=True)
class Changes:
    """What a refresh does to one region's EC2 prices: (type, USD per hour) before and after."""

    region: str
    source: str
    published: str
    added: dict[str, float] = field(default_factory=dict)
    changed: dict[str, tuple[float, float]] = field(default_factory=dict)
    removed: dict[str, float] = field(default_factory=dict)
    unchanged: tuple[str, ...] = ()
    written: bool = False

    @property
    def count(self) -> int:
        """Instance prices the offer file gives."""
        return len(self.added) + len(self.changed) + len(self.unchanged)


class RemovalRefusedError(PricesError):
    """The refresh would remove prices and ``prune`` was not given: nothing was written."""

    def __init__(self, changes: Changes):
        self.changes = changes
        removed = changes.removed
        super().__init__(
            f"{changes.source} has no Linux on-demand price of {len(removed)} instance type"
            f"{'s' if len(removed) != 1 else ''} the table prices in {changes.region}: {', '.join(removed)}; "
            "nothing written. Refresh from the region's whole offer file (without --offer-file it is downloaded), "
            "or give --prune to remove these prices"
        )


def check_region(region: str) -> str:
    """The region, checked as a stack's ``region`` setting is (infra/settings.py Region), else PricesError."""
    from infra.settings import check_region as check

    try:
        return check(region)
    except ValueError as err:
        raise PricesError(f"--region: {err}") from None


def parse_offer(data: bytes, source: str) -> dict[str, Any]:
    """The offer file's JSON; an OfferFileError naming ``source`` and the format expected otherwise."""
    try:
        offer = json.loads(data)
    except UnicodeDecodeError:
        raise OfferFileError(f"{source}: not UTF-8 text; {EXPECTED}") from None
    except json.JSONDecodeError as err:
        raise OfferFileError(
            f"{source}: not JSON ({err.msg} at line {err.lineno} column {err.colno}); {EXPECTED}"
        ) from None
    _check_shape(offer, source)
    return offer


def _check_shape(offer: Any, source: str) -> None:
    if not isinstance(offer, dict):
        raise OfferFileError(f"{source}: JSON {type(offer).__name__}, not an object; {EXPECTED}")
    missing = [k for k in ("products", "terms") if not isinstance(offer.get(k), dict)]
    if missing:
        raise OfferFileError(f"{source}: no {' or '.join(json.dumps(k) for k in missing)} object; {EXPECTED}")
    if not isinstance(offer["terms"].get("OnDemand"), dict):
        raise OfferFileError(f'{source}: "terms" has no "OnDemand" object; {EXPECTED}')
    code = offer.get("offerCode", "AmazonEC2")
    if code != "AmazonEC2":
        raise OfferFileError(f"{source}: the {code} offer file, not AmazonEC2's; {EXPECTED}")


def read_offer(path: Path) -> dict[str, Any]:
    """An offer file already downloaded (--offer-file)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise OfferFileError(f"{path}: cannot read it ({err.strerror or err}); {EXPECTED}") from None
    return parse_offer(data, str(path))


def ec2_prices(
    offer: Mapping[str, Any], region: str, wanted: set[str], source: str = "the offer file"
) -> dict[str, float]:
    """Linux on-demand USD per hour of the ``wanted`` instance types in an AmazonEC2 offer file."""
    _check_shape(offer, source)
    products, on_demand = offer["products"], offer["terms"]["OnDemand"]
    found: dict[str, float] = {}
    for sku, product in products.items():
        try:
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
        except (AttributeError, TypeError, ValueError) as err:
            raise OfferFileError(
                f"{source}: product {sku} or its OnDemand terms are malformed ({err}); {EXPECTED}"
            ) from None
    return found


def _regions_of(offer: Mapping[str, Any]) -> list[str]:
    return sorted(
        {
            p["attributes"]["regionCode"]
            for p in offer["products"].values()
            if isinstance(p, dict) and isinstance(p.get("attributes"), dict) and p["attributes"].get("regionCode")
        }
    )


def _read_table(path: Path) -> dict[str, Any]:
    try:
        table = json.loads(path.read_text())
        if not isinstance(table.get("instance_specs"), dict) or not isinstance(table.get("regions"), dict):
            raise ValueError('no "instance_specs" and "regions" objects')
    except (OSError, ValueError, AttributeError) as err:
        raise PricesError(f"{path}: cannot read the price table ({err}); restore it with git") from None
    return table


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader (or an interrupted run) sees the old file or
    the new one, never a part. The temporary file is in the same directory, so os.replace is a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)  # mkstemp makes it 0600; keep the table's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def refresh(
    region: str, offer: Mapping[str, Any], source: str, path: Path = PRICES_FILE, *, prune: bool = False
) -> Changes:
    """Update the region's EC2 prices from the offer file's; returns what changed.

    Types the offer file prices are added or updated (status primary, its publication date as the
    source). Types of the region's table it has no price for are removals: refused with
    RemovalRefusedError (nothing written) unless ``prune``. Other regions and the SageMaker and service
    prices are left as they are."""
    check_region(region)
    table = _read_table(path)
    found = ec2_prices(offer, region, set(table["instance_specs"]), source)
    if not found:
        regions = _regions_of(offer)
        holds = f"it holds products of {', '.join(regions)}" if regions else "it holds no product with a regionCode"
        raise OfferFileError(
            f"{source}: no Linux on-demand price of the platform's instance types in {region} ({holds}); {EXPECTED}"
        )
    published = str(offer.get("publicationDate") or "?")
    regional = table["regions"].setdefault(region, {"ec2": {}, "sagemaker": {}, "items": {}})
    before = {t: e["usd"] for t, e in regional["ec2"].items()}
    changes = Changes(
        region=region,
        source=source,
        published=published,
        added={t: usd for t, usd in sorted(found.items()) if t not in before},
        changed={t: (before[t], usd) for t, usd in sorted(found.items()) if t in before and before[t] != usd},
        removed={t: usd for t, usd in sorted(before.items()) if t not in found},
        unchanged=tuple(sorted(t for t, usd in found.items() if before.get(t) == usd)),
    )
    if changes.removed and not prune:
        raise RemovalRefusedError(changes)
    regional["ec2"] = {
        t: {"usd": usd, "status": "primary", "source": f"AWS Price List {source} (publicationDate {published})"}
        for t, usd in sorted(found.items())
    }
    if published != "?":
        table["as_of"] = published[:10]
    write_atomically(path, json.dumps(table, indent=2) + "\n")
    return replace(changes, written=True)


def download(region: str) -> tuple[dict[str, Any], str]:
    """The region's AmazonEC2 offer file from the AWS Price List (hundreds of MB)."""
    import urllib.request

    url = OFFER_URL.format(region=region)
    try:
        with urllib.request.urlopen(url, timeout=300) as response:
            data = response.read()
    except OSError as err:  # urllib.error.URLError and HTTPError are OSErrors
        reason = getattr(err, "reason", None) or err
        raise OfferFileError(
            f"{url}: cannot download it ({reason}); download it another way and give it with --offer-file"
        ) from None
    return parse_offer(data, url), url
