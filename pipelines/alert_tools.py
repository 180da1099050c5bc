"""promtool and amtool, the test tools of Prometheus and Alertmanager, from Debian 12's packages.

`make test` runs this with the system Python (standard library only) before the tests: it downloads
the pinned packages from Debian's archive, checks each against the SHA-256 that Debian's signed
package index (dists/bookworm/main/binary-<arch>/Packages) lists for it, and unpacks the two tools
into ``.tools/debian/bin``. Nothing is installed system-wide. A machine that cannot download them
gets a message; the alert tests then say what is missing (and fail where MLPLATFORM_REQUIRE_TOOLS is
set, as in CI).

Debian 12 ships Prometheus 2.42.0 and Alertmanager 0.25.0; the chart runs newer ones
(docs/monitoring.md, "Testing an alert rule", says which features the tests rely on).
"""

from __future__ import annotations

import hashlib
import io
import lzma
import platform
import sys
import tarfile
import urllib.request
from pathlib import Path

ARCHIVE = "https://deb.debian.org/debian/"
# (package file in the pool, tool inside it) -> SHA-256 per architecture, from the Packages index.
PACKAGES = {
    ("pool/main/p/prometheus/prometheus_2.42.0+ds-5+deb12u1_{arch}.deb", "promtool"): {
        "amd64": "81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55",
        "arm64": "ca131aa102390083398afbc80be9c8dd1dda78f9f92154fc00df8f7f1f4556e9",
    },
    ("pool/main/p/prometheus-alertmanager/prometheus-alertmanager_0.25.0-1+b4_{arch}.deb", "amtool"): {
        "amd64": "4fb9aed15cfe8e0c32408e643ab32a1e41ee87d2cc26f18aeba928b1b0b98ae7",
        "arm64": "c8d60025df09a6525a4ce29d6a656d244e2626fa597ad22d6e4d466979e95937",
    },
}
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
BIN = Path(__file__).resolve().parents[1] / ".tools" / "debian" / "bin"


def data_member(deb: bytes, name: str) -> bytes:
    """The file ``usr/bin/<name>`` of a .deb: an ar archive whose data.tar.xz holds the files."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar header)")
    offset = 8
    while offset < len(deb):
        header = deb[offset : offset + 60]
        member, size = header[:16].decode().strip().rstrip("/"), int(header[48:58].decode().strip())
        body = deb[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size % 2)
        if member.startswith("data.tar"):
            raw = lzma.decompress(body) if member.endswith(".xz") else body
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                try:
                    extracted = tar.extractfile(f"./usr/bin/{name}")
                except KeyError:
                    break
                if extracted is None:
                    break
                return extracted.read()
    raise ValueError(f"usr/bin/{name} not found in the package")


def install(target: Path = BIN) -> list[str]:
    """Download, check and unpack the tools that are missing; return what was installed."""
    if platform.system() != "Linux":  # Debian's packages hold Linux binaries
        raise RuntimeError(
            f"the pinned packages are Linux builds; on {platform.system()} put promtool and amtool on PATH"
        )
    arch = ARCHES.get(platform.machine())
    if arch is None:
        raise RuntimeError(f"no pinned package for {platform.machine()} (amd64 and arm64 are pinned)")
    installed = []
    for (pool, tool), digests in PACKAGES.items():
        path = target / tool
        if path.exists():
            continue
        url = ARCHIVE + pool.format(arch=arch)
        with urllib.request.urlopen(url, timeout=120) as response:  # a pinned https URL
            deb = response.read()
        digest = hashlib.sha256(deb).hexdigest()
        if digest != digests[arch]:
            raise RuntimeError(f"{url}: SHA-256 {digest}, Debian's index says {digests[arch]}")
        target.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(data_member(deb, tool))
        partial.chmod(0o755)
        partial.replace(path)
        installed.append(tool)
    return installed


def main() -> int:
    try:
        done = install()
    except (OSError, RuntimeError, ValueError) as err:
        print(f"alert tools: not installed ({err}); the alert tests will say so", file=sys.stderr)
        return 0  # make test goes on; the tests report the missing tools
    if done:
        print(f"alert tools: installed {', '.join(done)} into {BIN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
