"""``revops sandbox serve``: the ``--env-file`` it writes is what Settings (so ``revops sync``)
reads as is, and its export lines paste into bash unbroken."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from revops.settings import Settings
from revops.sources.registry import get_spec
from tests.cli.run import REVOPS, clean_env


def serve(tmp_path, *args: str) -> tuple[subprocess.Popen, list[str]]:
    """Start it; the lines it printed up to "Ctrl-C to stop."."""
    # Ctrl-C as a terminal delivers it: pytest-xdist's workers ignore SIGINT, and a child
    # inherits that, so the default disposition is restored for it
    proc = subprocess.Popen([REVOPS, "sandbox", "serve", "--port", "0", "--days", "5", *args],
                            env=clean_env(tmp_path, COLUMNS="80"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C to stop."):
            return proc, lines
    proc.kill()
    raise AssertionError("\n".join(lines))


def test_env_file_loads_back_through_settings_and_reaches_the_sandbox(tmp_path):
    env_file = tmp_path / "sandbox.env"
    proc, lines = serve(tmp_path, "--env-file", str(env_file))
    try:
        assert env_file.stat().st_mode & 0o077 == 0  # it holds tokens: owner only
        settings = Settings(_env_file=env_file)
        assert settings.meta_base_url.startswith("http://127.0.0.1:")
        assert settings.meta_account_ids and all(a.isdigit() for a in settings.meta_account_ids)
        assert settings.google_ads_customer_ids and settings.linkedin_account_ids
        # the tokens in the file are the ones the running servers accept
        for source in ("meta", "hubspot", "google_ads", "microsoft_ads", "ecb"):
            get_spec(source).check(settings.model_copy(update={"http_max_retries": 0}))

        exports = [line for line in lines if line.startswith("export ")]
        assert len(exports) >= 20
        start = lines.index(exports[0])
        assert lines[start:start + len(exports)] == exports  # nothing wrapped onto a line of its own
        script = "\n".join(exports) + '\nprintf "%s\\n" "$REVOPS_META_ACCOUNT_IDS" "$REVOPS_META_BASE_URL"'
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
        ids, url = out.splitlines()
        assert json.loads(ids) == settings.meta_account_ids and url == settings.meta_base_url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)  # drain the pipe while it stops


def test_env_file_never_replaces_a_file_it_did_not_write(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("REVOPS_META_ACCESS_TOKEN=the-real-one\n")
    proc = subprocess.run([REVOPS, "sandbox", "serve", "--port", "0", "--days", "5", "--env-file", str(env_file)],
                          env=clean_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "exists and was not written by this command" in proc.stderr
    assert env_file.read_text() == "REVOPS_META_ACCESS_TOKEN=the-real-one\n"
