"""Guards around the AWS calls that send messages: Pinpoint ``SendMessages``, End User
Messaging SMS ``SendTextMessage`` and Amazon SES v2 ``SendEmail``. Install with
``pip install smspolicy[aws]``."""

from ._async import AsyncPinpointGuard, AsyncSesV2Guard, AsyncSmsVoiceV2Guard
from ._content import PinpointTemplates, SmsTemplate, TemplateSource
from ._delivery import single_attempt
from ._guard import Region
from ._journal import FileJournal, Journal, MemoryJournal
from ._lookup import PinpointLineTypeLookup
from ._outcomes import Outcome, OutcomeStatus, json_ready
from ._pinpoint import PinpointGuard
from ._ses import EmailTemplate, SesTemplates, SesV2Guard
from ._smsvoice import SmsVoiceV2Guard
from ._validate import validate_request

__all__ = [
    "AsyncPinpointGuard",
    "AsyncSesV2Guard",
    "AsyncSmsVoiceV2Guard",
    "EmailTemplate",
    "FileJournal",
    "Journal",
    "MemoryJournal",
    "Outcome",
    "OutcomeStatus",
    "PinpointGuard",
    "PinpointLineTypeLookup",
    "PinpointTemplates",
    "Region",
    "SesTemplates",
    "SesV2Guard",
    "SmsTemplate",
    "SmsVoiceV2Guard",
    "TemplateSource",
    "json_ready",
    "single_attempt",
    "validate_request",
]
