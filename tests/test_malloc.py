"""glibc's mmap threshold is fixed for every revops process (revops.runtime.malloc_defaults)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")

# in a process of its own: glibc's threshold is process-wide and only ever moves up by itself
PROBE = r"""
import ctypes, json
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]

def own_pages(n):  # is a block of n bytes mmapped (given back when freed), or from the heap?
    before = libc.mallinfo2().hblkhd
    p = libc.malloc(n)
    mapped = libc.mallinfo2().hblkhd - before >= n
    libc.free(p)
    return mapped

libc.free(libc.malloc(16 << 20))  # freeing a 16 MiB mmapped block raises glibc's threshold to it
seen = {"2MiB_before": own_pages(2 << 20)}
from revops.runtime import malloc_defaults
seen["set"] = malloc_defaults()
seen["2MiB_after"], seen["512KiB_after"] = own_pages(2 << 20), own_pages(512 << 10)
print(json.dumps(seen))
"""


def _probe(code: str = PROBE, drop: tuple[str, ...] = ("MALLOC_",), **env: str) -> dict:
    """What ``code`` printed last, run from the repo's root without the variables ``drop`` names."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, cwd=root, capture_output=True,
                         text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_large_blocks_get_pages_of_their_own_again_after_glibc_raised_its_threshold():
    assert _probe() == {"2MiB_before": False, "set": True, "2MiB_after": True, "512KiB_after": False}


def test_an_operators_malloc_setting_wins():
    seen = _probe(MALLOC_MMAP_THRESHOLD_="4194304")  # 4 MiB, fixed by glibc at start
    assert seen == {"2MiB_before": False, "set": False, "2MiB_after": False, "512KiB_after": False}


def test_a_workers_flow_run_gets_the_same_process_defaults():
    """A Prefect worker imports the flow, not the CLI: the flow module sets them itself."""
    probe = PROBE.replace("from revops.runtime import malloc_defaults\nseen[\"set\"] = malloc_defaults()",
                          "import flows.nightly_sync, os\n"
                          "seen[\"set\"] = os.environ.get(\"ARROW_DEFAULT_MEMORY_POOL\") == \"system\"")
    assert probe != PROBE
    assert _probe(probe, drop=("MALLOC_", "ARROW_")) == {
        "2MiB_before": False, "set": True, "2MiB_after": True, "512KiB_after": False}
