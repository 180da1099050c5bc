"""The installer of promtool and amtool (pipelines/alert_tools.py): it unpacks the tool from a
Debian package, refuses a download whose digest is not the one Debian's index lists, and installs
nothing where the packages' Linux binaries cannot run."""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile

import pytest

from pipelines import alert_tools


def deb(files: dict[str, bytes]) -> bytes:
    """A .deb as dpkg writes it: an ar archive of debian-binary, control.tar.xz and data.tar.xz."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", lzma.compress(b"")),
        ("data.tar.xz", lzma.compress(data.getvalue())),
    ]
    out = b"!<arch>\n"
    for name, body in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode() + body
        out += b"\n" if len(body) % 2 else b""
    return out


def test_the_tool_is_unpacked_from_the_package():
    package = deb({"usr/bin/amtool": b"#!amtool", "usr/share/doc/x": b"doc"})
    assert alert_tools.data_member(package, "amtool") == b"#!amtool"
    with pytest.raises(ValueError, match="usr/bin/promtool not found"):
        alert_tools.data_member(package, "promtool")
    with pytest.raises(ValueError, match="not a Debian package"):
        alert_tools.data_member(b"<html>", "amtool")


def test_a_download_with_another_digest_or_on_another_system_installs_nothing(tmp_path, monkeypatch):
    package = deb({"usr/bin/promtool": b"x", "usr/bin/amtool": b"y"})

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(alert_tools.urllib.request, "urlopen", lambda url, timeout: Response(package))
    monkeypatch.setattr(alert_tools.platform, "system", lambda: "Linux")
    monkeypatch.setattr(alert_tools.platform, "machine", lambda: "x86_64")
    with pytest.raises(RuntimeError, match="Debian's index says"):
        alert_tools.install(tmp_path)
    assert not list(tmp_path.iterdir())
    digest = hashlib.sha256(package).hexdigest()
    monkeypatch.setattr(alert_tools, "PACKAGES", {k: {"amd64": digest} for k in alert_tools.PACKAGES})
    assert alert_tools.install(tmp_path) == ["promtool", "amtool"]
    assert (tmp_path / "amtool").read_bytes() == b"y" and (tmp_path / "amtool").stat().st_mode & 0o111
    monkeypatch.setattr(alert_tools.platform, "system", lambda: "Darwin")
    with pytest.raises(RuntimeError, match="Linux builds"):
        alert_tools.install(tmp_path / "other")
