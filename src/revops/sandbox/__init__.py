"""The built-in sandbox: a synthetic company (``world``), its true KPIs (``truth``) and the HTTP
servers that serve it in each platform's wire format (``server`` + ``servers/<platform>.py``,
found through the sandbox's own ``registry``; ``harness`` starts them all).

Used by ``revops demo``, ``revops sandbox serve``, the tests and the benchmarks, never by
production code (``tests/test_boundaries.py`` checks it).
"""
