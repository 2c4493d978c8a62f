"""Fixtures for the `scfrt serve` SDK tests: a server subprocess, SDK clients, function zips.

The binary is $SCFRT_BIN, else built with `cargo build -p scfrt` (target dir $CARGO_TARGET_DIR or
the workspace's `target/`).
"""

import base64
import io
import os
import pathlib
import subprocess
import zipfile

import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416 import scf_client

REPO = pathlib.Path(__file__).resolve().parents[2]
SECRET_ID = "AKIDscfrtTestSecretId0000000000000"
SECRET_KEY = "scfrtTestSecretKey00000000000000"


def scfrt_bin():
    env = os.environ.get("SCFRT_BIN")
    if env:
        return env
    subprocess.run(["cargo", "build", "-q", "-p", "scfrt"], cwd=REPO, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    return str(pathlib.Path(target) / "debug" / "scfrt")


class Server:
    """A running `scfrt serve --port 0`; `endpoint` is what HttpProfile takes."""

    def __init__(self, binary, state_dir, extra=()):
        self.binary = binary
        self.state_dir = state_dir
        self.stderr_path = pathlib.Path(state_dir).parent / (pathlib.Path(state_dir).name + ".stderr")
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", "--state-dir", str(state_dir),
             "--secret-id", SECRET_ID, "--secret-key", SECRET_KEY, *extra],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True,
        )
        # The first stdout line is the address (the server prints it once it listens).
        line = self.proc.stdout.readline()
        # http://, or https:// with --tls.
        scheme, sep, endpoint = line.strip().removeprefix("listening on ").partition("://")
        if not line.startswith("listening on ") or not sep or scheme not in ("http", "https"):
            self.stop()
            raise RuntimeError(f"scfrt serve did not start: {line!r}; see {self.stderr_path}")
        self.scheme, self.endpoint = scheme, endpoint

    def client(self, secret_id=SECRET_ID, secret_key=SECRET_KEY, timeout=60):
        # The seed's client setup, with only the endpoint (and protocol) changed.
        cred = credential.Credential(secret_id, secret_key)
        http_profile = HttpProfile(protocol="http", endpoint=self.endpoint, reqTimeout=timeout)
        client_profile = ClientProfile()
        client_profile.httpProfile = http_profile
        return scf_client.ScfClient(cred, "na-toronto", client_profile)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.stderr.close()


@pytest.fixture(scope="session")
def binary():
    return scfrt_bin()


@pytest.fixture(scope="session")
def server(binary, tmp_path_factory):
    srv = Server(binary, tmp_path_factory.mktemp("state") / "serve", ["--max-instances", "4"])
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    return server.client()


def make_zip(files):
    """A zip of {name: (text, mode)} as the seed makes it (`chmod 755`, `zip`)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
    return buf.getvalue()


def b64(data):
    return base64.b64encode(data).decode()


@pytest.fixture(scope="session")
def bash_echo_zip():
    d = REPO / "examples" / "bash-echo"
    return make_zip({
        "index.sh": ((d / "index.sh").read_text(), 0o755),
        "bootstrap": ((d / "bootstrap").read_text(), 0o755),
    })
