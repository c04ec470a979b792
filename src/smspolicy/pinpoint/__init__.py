"""Moving off Amazon Pinpoint campaigns and journeys: import an endpoint export into
profiles, person links and the consent ledger, and convert campaign, journey and application
settings into a policy file."""

from ._endpoints import SOURCE, ImportSummary, LineError, import_endpoints

__all__ = ["SOURCE", "ImportSummary", "LineError", "import_endpoints"]
