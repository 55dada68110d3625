"""Signal callbacks: ``POST /v1/signals/{token}``, authorised by the token alone (no API key)."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from stepwise import components
from stepwise.actions.signal_models import SignalBody, SignalReceipt, SignalStatus
from stepwise.api.envelopes import Envelope
from stepwise.core import settings

router = APIRouter(prefix="/v1/signals", tags=["signals"])

TOKEN_PATH = Path(
    max_length=1024,
    pattern=r"^[A-Za-z0-9_.-]+$",
    description="The opaque token of the signal_url a webhook delivery carried.",
)


@router.post(
    "/{token}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[SignalReceipt],
    responses={
        200: {"description": "A repeat: the attempt was already settled; nothing changed."},
        401: {"description": "The token is forged, altered or garbled."},
        409: {"description": "Too late: the attempt timed out, was superseded or its run ended."},
    },
)
def signal(
    token: Annotated[str, TOKEN_PATH], body: SignalBody, response: Response
) -> Envelope[SignalReceipt]:
    """A destination's callback for one attempt: success or failure settles it, heartbeat (or
    ack) extends its wait. Queued and applied within moments; the answer says what happened."""
    target = components.signal_tokens(settings.api_settings().signal_secret_arn).read(token)
    receipt = components.signals().accept(target, body)
    if receipt.status == SignalStatus.ALREADY_SETTLED:
        response.status_code = status.HTTP_200_OK
    return Envelope(data=receipt)
