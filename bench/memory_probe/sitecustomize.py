"""What a sync's memory is made of, sampled inside its process: ``python -m bench.large_bench
--memory-probe --logs DIR`` puts this directory on the sync's ``PYTHONPATH`` (Python imports
``sitecustomize`` at start-up) and names the file in ``BENCH_MEMORY_PROBE``.

Every ``BENCH_MEMORY_PROBE_SECONDS`` (3) a thread appends one JSON line: the process's RSS,
glibc's heap (``mallinfo2``: in use, free in the heap, in mmapped blocks), pyarrow's allocated
bytes, and DuckDB's own account by tag (``duckdb_memory()``: cached table blocks, indexes, a
transaction's appended rows...), read on a cursor of the last DuckDB connection the process
opened. MiB throughout. Nothing here is imported by the project."""

import json
import os
import sys
import threading
import time

OUT = os.environ.get("BENCH_MEMORY_PROBE")


def _rss_mib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))


def _probe(path: str, every: float) -> None:
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    while "duckdb" not in sys.modules:  # wrap duckdb.connect before the warehouse connects
        time.sleep(0.01)
    import duckdb

    opened: list = []
    connect = duckdb.connect

    def remembering(*args, **kwargs):
        connection = connect(*args, **kwargs)
        opened[:] = [connection]
        return connection

    duckdb.connect = remembering
    started, cursor = time.monotonic(), None
    with open(path, "a") as out:
        while True:
            time.sleep(every)
            m = libc.mallinfo2()
            line = {"pid": os.getpid(), "t": round(time.monotonic() - started, 1), "rss": _rss_mib(),
                    "malloc_used": m.uordblks >> 20, "malloc_free": m.fordblks >> 20, "mmapped": m.hblkhd >> 20}
            if "pyarrow" in sys.modules:
                line["arrow"] = sys.modules["pyarrow"].total_allocated_bytes() >> 20
            try:
                if cursor is None and opened:
                    cursor = opened[-1].cursor()
                if cursor is not None:
                    line["duckdb"] = {tag: used >> 20 for tag, used in cursor.execute(
                        "select tag, memory_usage_bytes from duckdb_memory() where memory_usage_bytes > 0").fetchall()}
            except duckdb.Error:  # that connection closed: the next sample takes the newest
                cursor = None
            out.write(json.dumps(line) + "\n")
            out.flush()


if OUT:
    threading.Thread(target=_probe, args=(OUT, float(os.environ.get("BENCH_MEMORY_PROBE_SECONDS", "3"))),
                     name="memory-probe", daemon=True).start()
