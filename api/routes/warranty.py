"""The warranty rules over HTTP: a service point checks a case before it
repairs it (ledger/parts/warranty.py).

Any logged-in role may ask; the answer reads nothing and writes nothing, so
the same case always gets the same decision. A case the rules refuse (dates
out of order, proof without a purchase date, extended months on a charger…)
is a 422 naming the field.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor
from ledger.parts.warranty import Case, Decision, decide

router = APIRouter(tags=["warranty"])


@router.post(
    "/warranty/decide",
    response_model=Decision,
    summary="The service category of a case (DOA, DAP, WH, F), its warranty end and why",
)
def decide_case(body: Case, actor: CurrentActor) -> Decision:
    return decide(body)
