"""Guards around the AWS calls that send messages: Pinpoint ``SendMessages`` and End User
Messaging SMS ``SendTextMessage``. Install with ``pip install smspolicy[aws]``."""

from ._guard import Region
from ._lookup import PinpointLineTypeLookup
from ._outcomes import Outcome, OutcomeStatus
from ._pinpoint import PinpointGuard
from ._smsvoice import SmsVoiceV2Guard
from ._validate import validate_request

__all__ = [
    "Outcome",
    "OutcomeStatus",
    "PinpointGuard",
    "PinpointLineTypeLookup",
    "Region",
    "SmsVoiceV2Guard",
    "validate_request",
]
