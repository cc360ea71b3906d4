"""A memory sampler for ``revops sync`` under the large bench (issue 15): every 5 s it writes the
process's RSS, pyarrow's allocated bytes, Python's allocated blocks, its threads and glibc's
``mallinfo2`` (heap in use and free but still resident) to ``$MALLINFO_DIR/mem-<pid>.tsv``.
Python imports ``sitecustomize`` at start from ``PYTHONPATH``:

    python -m bench.large_bench --scale 0.3 --change 0 --no-duckdb --postgres \\
        --env PYTHONPATH=$PWD:$PWD/bench/mallinfo --env MALLINFO_DIR=/tmp/mallinfo

It told glibc's free-but-resident memory (``malloc_free``) from live memory: bench/README.md,
"Issue 15 at a glance: the session of 2026-12-07"."""

import ctypes
import os
import sys
import threading
import time

if "sync" in sys.argv[1:3] and os.environ.get("MALLINFO_DIR"):
    class _Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                   "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    def _sample() -> None:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _Info
        mib, started = 2**20, time.time()
        os.makedirs(os.environ["MALLINFO_DIR"], exist_ok=True)
        with open(os.path.join(os.environ["MALLINFO_DIR"], f"mem-{os.getpid()}.tsv"), "w") as out:
            out.write("t\trss\tarrow\tpyblocks\tthreads\tmalloc_arena\tmalloc_mmap\tmalloc_used\tmalloc_free\n")
            while True:
                time.sleep(5)
                with open("/proc/self/statm") as f:
                    rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                pa = sys.modules.get("pyarrow")
                arrow = pa.total_allocated_bytes() if pa is not None else 0
                m = libc.mallinfo2()
                out.write(f"{time.time() - started:.0f}\t{rss / mib:.0f}\t{arrow / mib:.0f}\t"
                          f"{sys.getallocatedblocks()}\t{threading.active_count()}\t{m.arena / mib:.0f}\t"
                          f"{m.hblkhd / mib:.0f}\t{m.uordblks / mib:.0f}\t{m.fordblks / mib:.0f}\n")
                out.flush()

    threading.Thread(target=_sample, daemon=True, name="mallinfo-sampler").start()
