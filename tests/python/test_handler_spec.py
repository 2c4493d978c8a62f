"""The `_HANDLER` string as the Python binding reads it: core's one parser (docs/handler.md).

Each rule is checked through `scfruntime.load_handler` in a fresh interpreter whose current
directory holds modules for every spelling, so a refusal is the parser's and not a missing file.
The rows marked "was" are where the binding used to differ from the other bootstraps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import PROCESS_TIMEOUT

INDEX = textwrap.dedent(
    """
    def main_handler(event, context):
        return "main"

    def _private(event, context):
        return "private"

    def 处理(event, context):
        return "unicode"

    globals()["1main"] = main_handler
    """
)

PROBE = textwrap.dedent(
    """
    import json, sys
    import scfruntime

    out = {}
    for spec in json.loads(sys.argv[1]):
        try:
            f = scfruntime.load_handler(spec)
            out[spec] = ["ok", f(None, None)]
        except scfruntime.HandlerNotFoundError as e:
            out[spec] = ["not found", str(e)]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("code")
    (d / "index.py").write_text(INDEX, encoding="utf-8")
    for rel in ["sub/mod.py", "2024/app.py", "my-fn.py", "índex.py", "模块.py"]:
        path = d / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"def main_handler(event, context):\n    return {rel!r}\n", encoding="utf-8")
    return d


def load(code_dir: Path, specs: list[str]) -> dict[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(specs)],
        cwd=code_dir,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


ACCEPTED = {
    "index.main_handler": "main",
    "index._private": "private",
    "sub/mod.main_handler": "sub/mod.py",
    "sub.mod.main_handler": "sub/mod.py",
    # A file component may start with a digit, and hold '-'.
    "2024/app.main_handler": "2024/app.py",
    "my-fn.main_handler": "my-fn.py",
}


def test_accepted_spellings_load_their_function(code_dir):
    got = load(code_dir, list(ACCEPTED))
    assert got == {spec: ["ok", value] for spec, value in ACCEPTED.items()}


REFUSED = {
    # was: loaded index.main_handler (surrounding whitespace trimmed)
    " index.main_handler": "it contains whitespace",
    "index.main_handler\n": "it contains whitespace",
    # was: loaded the function (Unicode letters and digit-first names accepted)
    "index.处理": "the function name is not an identifier",
    "index.1main": "the function name is not an identifier",
    "índex.main_handler": "the file path has a character other than",
    "模块.main_handler": "the file path has a character other than",
    # refused before too
    "index": "there is no '.' between file and function",
    "index.": "the function name after the last '.' is empty",
    ".main_handler": "the file name before the '.' is empty",
    "../index.main_handler": "the file path has an empty component",
    "/abs/index.main_handler": "the file must be a path relative to the code directory",
    "index.main-handler": "the function name is not an identifier",
}


def test_refused_spellings_say_which_rule_they_break(code_dir):
    got = load(code_dir, list(REFUSED))
    for spec, reason in REFUSED.items():
        status, message = got[spec]
        assert status == "not found", (spec, message)
        assert message.startswith("[437] handler not found: handler "), message
        assert "is not of the form 'file.function'" in message, message
        assert reason in message, (spec, message)
        assert "expected '<file>.<function>'" in message, message


def test_the_file_part_is_not_stripped_of_py(code_dir):
    """was: `.py` was stripped, so this loaded index.main_handler. SCF's handler names the file
    without its extension; a '.' in the file part separates directories, so this is the module
    `index.py`, which does not exist."""
    got = load(code_dir, ["index.py.main_handler"])
    status, message = got["index.py.main_handler"]
    assert status == "not found"
    assert "no module 'index.py'" in message, message


@pytest.mark.parametrize(
    "spec, wording",
    [
        ("index.py.main_handler", "no module 'index.py'"),
        ("index.1main", "the function name is not an identifier"),
    ],
)
def test_both_routes_refuse_at_start(invoke, package, spec, wording):
    """The wheel (`python -m scfruntime`) and the embedded bootstrap read `_HANDLER` the same
    way: a refused handler is a 437 at start, exit status 1."""
    out = invoke(package, spec, "{}")
    assert out.returncode == 1
    log = out.results[0]["Log"]
    assert "scfruntime: [437] handler not found:" in log
    assert wording in log, log
