"""The built-in sandbox: a synthetic company (``world``), its true KPIs (``truth``) and the HTTP
servers that serve it in each platform's wire format (``server`` + ``sources/<platform>/sandbox.py``)."""
