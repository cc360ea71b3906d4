"""Salesforce (REST API, SOQL query/queryAll): users, leads and their status history, contacts,
opportunities with their stage history and contact roles, and tasks.

The registry entry. See README.md in this folder for what is read, the settings and the wire
pitfalls handled.
"""

from __future__ import annotations

from revops.sources.registry import CRM, SourceSpec
from revops.sources.salesforce.client import SECRET_ENV


SPEC = SourceSpec(
    name="salesforce",
    kind=CRM,
    connector="revops.sources.salesforce.streams:SalesforceSource",
    secret_env=SECRET_ENV,
    requires=("salesforce_client_id", "salesforce_refresh_token"),
    refreshes_auth=True,
)

__all__ = ["SPEC"]
