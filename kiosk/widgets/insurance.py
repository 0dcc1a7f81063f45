"""A health-insurance card's validity at the reception desk: until when, the benefit level, and a flag (red for an
expired or not-yet-valid card, amber for one that expires within 30 days) shown before the check-in button and again
beside the queue ticket. Check-in stays possible: the desk decides what an invalid card means for the visit."""

from __future__ import annotations

from textual.widget import Widget

from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.words import Words
from lookup.domain.model import Eligibility

_FLAG_CLASS = {"expired": "-danger", "not-yet-valid": "-danger", "expiring": "-warning"}


def insurance_state(context: KioskContext, insurance: Eligibility) -> str:
    """`valid`, `expiring`, `expired`, `not-yet-valid` or `unknown` on the kiosk's today."""
    return insurance.state(context.today())


def insurance_lines(context: KioskContext, insurance: Eligibility, *, checking: bool = False) -> list[Widget]:
    """The card's number, validity, benefit level and state, where the answer came from, and (while the gateway is
    asked) that it is being asked."""
    t = context.t
    state = insurance_state(context, insurance)
    until = format_date(insurance.valid_to) if insurance.valid_to is not None else t("insurance.open-ended")
    level = (
        t("insurance.level", level=insurance.benefit_level)
        if insurance.benefit_level is not None
        else t("insurance.level-unknown")
    )
    flag = _FLAG_CLASS.get(state, "")
    lines: list[Widget] = [
        Words(t("insurance.title", card=insurance.card_number), classes="section-title"),
        Words(t(f"insurance.state.{state}"), classes=f"explain insurance-flag {flag}".strip(), id="insurance-state"),
        Words(f"{t('insurance.until', date=until)} · {level}", classes="explain", id="insurance-validity"),
    ]
    if insurance.valid_from is not None and state == "not-yet-valid":
        lines.append(Words(t("insurance.from", date=format_date(insurance.valid_from)), classes="explain"))
    source = "checking" if checking else insurance.source
    lines.append(Words(t(f"insurance.source.{source}"), classes="explain", id="insurance-source"))
    return lines


def ticket_flag(context: KioskContext, insurance: Eligibility | None) -> list[Widget]:
    """The insurance flag repeated beside a queue ticket, when the card is not plainly valid."""
    if insurance is None:
        return []
    state = insurance_state(context, insurance)
    if state not in _FLAG_CLASS:
        return []
    t = context.t
    words = t("insurance.ticket", card=insurance.card_number, state=t(f"insurance.state.{state}"))
    return [Words(words, classes=f"explain insurance-flag {_FLAG_CLASS[state]}", id="ticket-insurance")]
