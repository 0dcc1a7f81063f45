"""The patient's identity at the top of a record or check-in screen."""

from __future__ import annotations

from rich.text import Text

from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.words import Words
from lookup import PatientRecord, Sex


def sex_words(context: KioskContext, sex: Sex | None) -> str:
    return context.t(f"sex.{sex.value}") if sex is not None else "—"


class PatientCard(Words):
    """Name, birth date, sex and identifiers; in the lobby only the name and birth year (others may be watching)."""

    DEFAULT_CSS = """
    PatientCard { height: auto; padding: 0 1; border: tall $primary; }
    """

    def __init__(self, context: KioskContext, patient: PatientRecord, *, id: str | None = None) -> None:
        super().__init__(self._render_card(context, patient), id=id)

    @staticmethod
    def _render_card(context: KioskContext, patient: PatientRecord) -> Text:
        t = context.t
        person = patient.demographics
        text = Text(person.full_name or t("patient.no-name"), style="bold")
        born = person.birth_year if context.lobby or person.birth_date is None else format_date(person.birth_date)
        text.append(f"   {t('patient.born')}: {born or '—'}")
        if context.lobby:
            return text
        text.append(f"   {t('patient.sex')}: {sex_words(context, person.sex)}")
        if person.province:
            text.append(f"   {t('patient.province')}: {person.province}")
        for identifier in patient.identifiers:
            label = identifier.system.rstrip("/").rsplit("/", 1)[-1].upper()
            text.append(f"\n{label} {identifier.value}", style="bright_black")
        return text
