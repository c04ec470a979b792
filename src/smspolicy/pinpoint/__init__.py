"""Moving off Amazon Pinpoint campaigns and journeys: import an endpoint export into
profiles, person links and the consent ledger, and convert campaign, journey and application
settings into a policy file."""

from ._convert import convert_file, convert_settings
from ._endpoints import SOURCE, ImportSummary, LineError, import_endpoints

__all__ = [
    "SOURCE",
    "ImportSummary",
    "LineError",
    "convert_file",
    "convert_settings",
    "import_endpoints",
]
