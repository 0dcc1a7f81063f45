"""The patient's identity at the top of a record or check-in screen."""

from __future__ import annotations

from rich.text import Text

from kiosk.i18n import Translator
from kiosk.widgets.context import KioskContext, format_date
from kiosk.widgets.theme import SECONDARY_TEXT
from kiosk.widgets.words import Words
from lookup import Identifier, PatientRecord, Sex, current_province, former_province
from lookup.domain.temporary import TEMPORARY_SYSTEM


def identifier_label(t: Translator, identifier: Identifier) -> str:
    """The short name of an identifier's kind: the last part of its system (`CCCD`, `BHYT`), and for a temporary
    number the words for it (its system's last part is an English word)."""
    return system_label(t, identifier.system)


def system_label(t: Translator, system: str) -> str:
    """The short name of an identifier system, as `identifier_label` gives it."""
    if system == TEMPORARY_SYSTEM:
        return t("patient.temporary-id")
    return system.rstrip("/").rsplit("/", 1)[-1].upper()


def sex_words(context: KioskContext, sex: Sex | None) -> str:
    return context.t(f"sex.{sex.value}") if sex is not None else "—"


def province_words(context: KioskContext, province: str | None, address: str | None = None) -> str:
    """The province by its name since the 1 July 2025 merger, and the former one when the record (its province or
    its address) still names a unit the merger absorbed or renamed: "Tây Ninh (trước đây: Long An)". A name the
    table does not know stays as written."""
    current = current_province(province or address or "")
    if current is None:
        return province or "—"
    former = former_province(province or "") or former_province(address or "")
    if former is None or former.current.code != current.code:
        return current.name
    return context.t("patient.formerly", name=current.name, former=former.name)


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
        if person.province or person.address:
            text.append(f"   {t('patient.province')}: {province_words(context, person.province, person.address)}")
        for identifier in patient.identifiers:
            label = identifier_label(t, identifier)
            text.append(f"\n{label} {identifier.value}", style=SECONDARY_TEXT)
        return text
