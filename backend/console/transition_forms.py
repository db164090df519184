"""The case page's step forms, one per transition a person makes there, in a table by the transition's name
as workflow.TRANSITIONS is: each reads its own fields, checks those that name a row, and hands the rest on."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from sqlalchemy.orm import Session

from backend.cases.services.life import RETURN_REASONS
from backend.cases.services.reads import get_case
from backend.config import get_config
from backend.console.forms import Form
from backend.db import RowId
from backend.errors import NotFound, ValidationFailed
from backend.org.models import Squad


class StepForm(Form):
    """A step with nothing of its own (sign, investigate, verify, close): only an internal note beside it."""

    note: str = Field("", max_length=2000)
    photo_kind: ClassVar[str | None] = None  # the kind of the photos the form carries, if it carries any

    def transition_data(self, session: Session) -> dict[str, Any]:
        """What `transition` is given besides the note (the form's own fields unless said otherwise); a field
        that names no row is refused here, beside that field."""
        return self.model_dump(exclude={"note"})


class DispatchForm(StepForm):
    squad: RowId | None = None  # none: the case goes where its estate or town routes it

    def transition_data(self, session: Session) -> dict[str, Any]:
        squad = session.get(Squad, self.squad) if self.squad else None
        if self.squad and squad is None:
            raise ValidationFailed.on("squad", "没有这个中队")
        return {"squad": squad}


class UnfoundedForm(StepForm):
    reason: str = Field("", max_length=500)


class HandleForm(StepForm):
    action: str = Field("", max_length=32)
    deadline: str = Field("", max_length=32)
    amount: str = Field("", max_length=20)
    decision_no: str = Field("", max_length=64)
    case_no: str = Field("", max_length=64)


class ReplyForm(StepForm):
    """The public reply that ends a case: the squad's (resolve) or a department's (record_transfer_reply)."""

    public_reply: str = Field("", max_length=2000)


class ResolveForm(ReplyForm):
    photo_kind: ClassVar[str | None] = "resolution"


class ReturnForm(StepForm):
    reason: str = Field("", max_length=500)
    reason_code: str = Field("", max_length=32)

    def transition_data(self, session: Session) -> dict[str, Any]:
        # a reason chosen from the list is the reason said when nothing is written
        return {
            "reason": self.reason or RETURN_REASONS.get(self.reason_code, ""),
            "reason_code": self.reason_code,
        }


class TransferForm(StepForm):
    department: str = Field("", max_length=32)


class MergeForm(StepForm):
    parent: str = Field("", max_length=20)

    def transition_data(self, session: Session) -> dict[str, Any]:
        try:
            return {"parent": get_case(session, self.parent)}
        except NotFound:
            raise ValidationFailed.on("parent", "没有这个工单号") from None


class VerifyForm(StepForm):
    """属实: the step that starts the duty cross-check of the estate's company, over the configured window."""

    def transition_data(self, session: Session) -> dict[str, Any]:
        return {"duty_window_days": get_config().DUTY_CHECK_DAYS}


# Every transition but a resident's own (withdraw, rate) and submit (the intake form files a case).
STEP_FORMS: dict[str, type[StepForm]] = {
    "dispatch": DispatchForm,
    "sign": StepForm,
    "investigate": StepForm,
    "verify": VerifyForm,
    "mark_unfounded": UnfoundedForm,
    "handle": HandleForm,
    "resolve": ResolveForm,
    "return": ReturnForm,
    "transfer": TransferForm,
    "record_transfer_reply": ReplyForm,
    "merge": MergeForm,
    "close": StepForm,
}
