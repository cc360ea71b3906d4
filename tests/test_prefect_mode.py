"""`revops sync` runs the Prefect flow when a Prefect API is configured and otherwise the same
sequence in-process (no temporary API server): the lookup of the API URL must agree with
Prefect's own settings, wherever the URL is set, without importing Prefect."""

from __future__ import annotations

import json
import subprocess
import sys

CASES = {
    "nothing": {},
    "environment": {"env": "http://127.0.0.1:4201/api"},
    "dotenv": {".env": "PREFECT_API_URL=http://127.0.0.1:4202/api\n"},
    "prefect.toml": {"prefect.toml": '[api]\nurl = "http://127.0.0.1:4203/api"\n'},
    "pyproject": {"pyproject.toml": '[tool.prefect.api]\nurl = "http://127.0.0.1:4204/api"\n'},
    "profile": {"profiles.toml": 'active = "srv"\n[profiles.srv]\nPREFECT_API_URL = "http://127.0.0.1:4205/api"\n'},
    "env over profile": {"env": "http://127.0.0.1:4206/api",
                         "profiles.toml": 'active = "srv"\n[profiles.srv]\nPREFECT_API_URL = "http://x:1/api"\n'},
    "dotenv over prefect.toml": {".env": "PREFECT_API_URL=http://127.0.0.1:4207/api\n",
                                 "prefect.toml": '[api]\nurl = "http://x:2/api"\n'},
}

#: one process for every case (Prefect's import is the slow part): our lookup first, for every
#: case, before Prefect is imported; then Prefect's fresh settings for the same cases
PROBE = """
import json, os, sys
from revops.runtime import prefect_api_url
cases = json.loads(sys.argv[1])

def enter(case):
    os.chdir(case["dir"])
    os.environ["PREFECT_HOME"] = case["home"]
    os.environ.pop("PREFECT_API_URL", None)
    if "env" in case:
        os.environ["PREFECT_API_URL"] = case["env"]

ours = {}
for name, case in cases.items():
    enter(case)
    ours[name] = prefect_api_url()
assert "prefect" not in sys.modules, "looking the URL up imported Prefect"
from prefect.settings import Settings
theirs = {}
for name, case in cases.items():
    enter(case)
    theirs[name] = Settings().api.url
print(json.dumps({"ours": ours, "theirs": theirs}))
"""


def test_api_url_lookup_agrees_with_prefect(tmp_path):
    cases = {}
    for i, (name, spec) in enumerate(CASES.items()):
        work, home = tmp_path / f"case{i}", tmp_path / f"case{i}-home"
        work.mkdir()
        home.mkdir()
        for file in (".env", "prefect.toml", "pyproject.toml"):
            if file in spec:
                (work / file).write_text(spec[file])
        if "profiles.toml" in spec:
            (home / "profiles.toml").write_text(spec["profiles.toml"])
        cases[name] = {"dir": str(work), "home": str(home), **({"env": spec["env"]} if "env" in spec else {})}
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(cases)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["ours"] == got["theirs"]
    assert [name for name, url in got["ours"].items() if url is None] == ["nothing"]
