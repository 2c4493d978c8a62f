"""The installed package: one version source, the public names, the stubs."""

from __future__ import annotations

import re
import subprocess
import sys

import scfruntime
from conftest import PROCESS_TIMEOUT, ROOT


def test_version_is_the_workspace_version():
    cargo = (ROOT / "Cargo.toml").read_text()
    section = cargo.split("[workspace.package]", 1)[1]
    version = re.search(r'^version\s*=\s*"([^"]+)"', section, re.M)
    assert version and scfruntime.__version__ == version.group(1)


def test_public_names_and_exception_tree():
    assert set(scfruntime.__all__) == set(scfruntime._scfruntime.__all__)
    for name in ["ConfigError", "RuntimeApiError", "HandlerImportError", "HandlerNotFoundError"]:
        assert issubclass(getattr(scfruntime, name), scfruntime.ScfRuntimeError)
    assert issubclass(scfruntime.ScfRuntimeError, Exception)
    assert issubclass(scfruntime.Context, dict)


def test_stubs_match_the_extension():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "scfruntime._scfruntime"],
        capture_output=True,
        timeout=PROCESS_TIMEOUT * 5,
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
