"""The ER's registration of a person nobody can identify: sex, an estimated age or birth year, the arrival time and a
short description, typed in a few seconds, then a temporary number at once (created on the server, or kept until it
returns: the number is valid either way), its wristband printed and the patient opened by that number.

What is typed here describes a person (clothing, where they were found): it is shown only in the fields it was typed
in, as plain text, and never written to a log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label

from kiosk.screens.base import KioskScreen
from kiosk.widgets.context import KioskContext
from kiosk.widgets.messages import ScanTextReceived
from kiosk.widgets.words import Words
from lookup.domain.model import Sex
from lookup.domain.temporary import TemporaryPatient, UnknownArrival, printed_number

if TYPE_CHECKING:
    from kiosk.app import KioskApp

log = logging.getLogger(__name__)

SEXES: Final = (Sex.MALE, Sex.FEMALE, Sex.UNKNOWN)
DESCRIPTION_MAX: Final = 500
OLDEST_AGE: Final = 120
_TIME = re.compile(r"(\d{1,2})[:h.]?(\d{2})")


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with the form: the catalogue key of the sentence, the values it names, and the field to fix."""

    key: str
    field: str
    values: dict[str, object]


def read_age(text: str, today: dt.date) -> tuple[int | None, int | None] | Problem:
    """`(estimated age, birth year)` from the age field: up to three digits are an age (0-120), four a birth year
    (not in the future, not over 120 years ago); empty is neither."""
    digits = text.strip()
    if not digits:
        return None, None
    if not digits.isdigit() or len(digits) not in (1, 2, 3, 4):
        return Problem("unknown.bad-age", "age", {"oldest": OLDEST_AGE})
    value = int(digits)
    if len(digits) < 4:
        return (value, None) if value <= OLDEST_AGE else Problem("unknown.bad-age", "age", {"oldest": OLDEST_AGE})
    if value > today.year:
        return Problem("unknown.future-year", "age", {"year": value})
    if value < today.year - OLDEST_AGE:
        return Problem("unknown.bad-age", "age", {"oldest": OLDEST_AGE})
    return None, value


def read_arrival(text: str, now: dt.datetime) -> dt.datetime | Problem:
    """The arrival time from `hh:mm` (also `hhmm`, `hh.mm`, `hhhmm`), today in the kiosk's time zone; a time later
    than now is yesterday's (a patient registered just after midnight who came in just before)."""
    found = _TIME.fullmatch(text.strip())
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        return Problem("unknown.bad-time", "arrival", {})
    moment = now.replace(hour=int(found.group(1)), minute=int(found.group(2)), second=0, microsecond=0)
    return moment - dt.timedelta(days=1) if moment > now else moment


class UnknownPatientScreen(KioskScreen):
    """One form for an unidentified arrival (ER only): sex buttons, age or birth year, arrival time, description;
    then the temporary number, its alias and state, and the wristband and patient buttons."""

    HINT_KEYS = ("hint.back", "hint.lang")
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "app.start_over", "back")]

    def __init__(self, context: KioskContext) -> None:
        super().__init__(context)
        self.sex = Sex.UNKNOWN
        self._values: dict[str, str] = {"arrival": self._now().strftime("%H:%M")}
        self.registered: TemporaryPatient | None = None
        self._failed = False
        """The last registration raised instead of answering: said as a failure, and it may be tried again."""
        self._problem: Problem | None = None
        self._printed: list[tuple[str, dict[str, str]]] = []
        """What became of the wristband: catalogue keys with their values (a reason in the printing's own words)."""

    def _now(self) -> dt.datetime:
        return self.context.clock().astimezone()

    @property
    def _kiosk(self) -> KioskApp:
        return cast("KioskApp", self.app)

    # -- drawing ---------------------------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        t = self.context.t
        with VerticalScroll(id="unknown"):
            yield Words(t("unknown.title"), classes="headline")
            yield Words(t("unknown.explain"), classes="explain")
            with Grid(classes="form"):
                yield Label(t("unknown.sex"), markup=False)
                with Horizontal(classes="choices", id="sexes"):
                    for sex in SEXES:
                        yield Button(
                            t(f"sex.{sex.value}"), id=f"sex-{sex.value}", classes="sex",
                            variant="primary" if sex is self.sex else "default",
                        )  # fmt: skip
                yield Label(t("unknown.age"), markup=False)
                yield Input(
                    self._values.get("age", ""), placeholder=t("unknown.age-placeholder"), id="age", max_length=4,
                    restrict=r"\d*",
                )  # fmt: skip
                yield Label(t("unknown.arrival"), markup=False)
                yield Input(self._values.get("arrival", ""), placeholder="hh:mm", id="arrival", max_length=5)
                yield Label(t("unknown.description"), markup=False)
                yield Input(
                    self._values.get("description", ""), placeholder=t("unknown.description-placeholder"),
                    id="description", max_length=DESCRIPTION_MAX,
                )  # fmt: skip
            yield Words(self._problem_words(), id="form-error", classes="notice")
            yield Vertical(*self._result_rows(), id="result")
        with Horizontal(classes="actions"):
            yield Button(t("unknown.register"), id="register", variant="success", disabled=self._done)
            yield Button(t("action.back"), id="back")

    @property
    def _done(self) -> bool:
        """A number was given (on the server or queued): this screen registers nobody else."""
        return self.registered is not None and self.registered.status != "failed"

    def _problem_words(self) -> str:
        problem = self._problem
        return self.context.t(problem.key, **problem.values) if problem is not None else ""

    def _result_rows(self) -> list[Widget]:
        t, made = self.context.t, self.registered
        if made is None and not self._failed:
            return []
        if made is None or made.status == "failed":
            return [Words(t("unknown.failed"), classes="explain -danger", id="unknown-failed")]
        state = t("unknown.created" if made.status == "created" else "unknown.queued")
        rows: list[Widget] = [
            Words(f"{t('unknown.number')}: {printed_number(made.number)}", classes="headline", id="temporary-number"),
            Words(f"{t('unknown.alias')}: {made.alias}", id="temporary-alias"),
            Words(state, classes="explain" if made.status == "created" else "explain -warning", id="temporary-state"),
            Horizontal(
                Button(t("unknown.print"), id="print-band", variant="primary"),
                Button(t("unknown.open"), id="open-patient"),
                classes="actions",
            ),
            Words(self._print_words(), id="print-result"),
        ]
        return rows

    def _print_words(self) -> str:
        t = self.context.t
        return "\n".join(t(key, **values) if key else values["detail"] for key, values in self._printed)

    def on_mount(self) -> None:
        super().on_mount()
        self._lock_form()
        if not self._done:
            self.query_one("#age", Input).focus()

    async def relabel(self) -> None:
        self._remember()
        await super().relabel()

    def _remember(self) -> None:
        self._values = {i.id: i.value for i in self.query(Input) if i.id}

    async def _redraw_result(self) -> None:
        box = self.query_one("#result", Vertical)
        await box.remove_children()
        await box.mount_all(self._result_rows())
        buttons = list(box.query(Button))
        if buttons:
            buttons[0].focus()
        box.scroll_visible()

    def _lock_form(self) -> None:
        """Once a number is given the form is what was registered: nothing in it can be changed or sent again."""
        for widget in (*self.query("#unknown .form Input"), *self.query(".sex"), self.query_one("#register")):
            widget.disabled = self._done

    def _show_problem(self, problem: Problem | None) -> None:
        self._problem = problem
        self.query_one("#form-error", Words).update(self._problem_words())
        for field in self.query(Input):
            field.set_class(problem is not None and field.id == problem.field, "-invalid")
        if problem is not None:
            self.query_one(f"#{problem.field}", Input).focus()

    # -- the form --------------------------------------------------------------------------------------------------

    @on(Button.Pressed, ".sex")
    def _sex_pressed(self, event: Button.Pressed) -> None:
        chosen = (event.button.id or "").removeprefix("sex-")
        self.sex = Sex(chosen) if chosen in {s.value for s in SEXES} else Sex.UNKNOWN
        for button in self.query(".sex").results(Button):
            button.variant = "primary" if button.id == event.button.id else "default"
        # Keys on a focused button would go to the scanner's detector (and open the search): back to the form.
        self.query_one("#age", Input).focus()

    def arrival_from_form(self) -> UnknownArrival | Problem:
        """What the form says, checked; the first problem otherwise."""
        self._remember()
        now = self._now()
        age = read_age(self._values.get("age", ""), now.date())
        if isinstance(age, Problem):
            return age
        arrival = read_arrival(self._values.get("arrival", ""), now)
        if isinstance(arrival, Problem):
            return arrival
        description = " ".join(self._values.get("description", "").split())[:DESCRIPTION_MAX]
        return UnknownArrival(
            sex=self.sex, estimated_age=age[0], birth_year=age[1], arrival=arrival, description=description
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#register")
    def submit(self) -> None:
        if self._done:
            return  # one person, one number: a second press never registers them twice
        form = self.arrival_from_form()
        if isinstance(form, Problem):
            self._show_problem(form)
            return
        self._show_problem(None)
        if self._kiosk.staff_lock.blocks_lookup():
            return
        self.query_one("#register", Button).disabled = True
        self.query_one("#form-error", Words).update(self.context.t("unknown.registering"))
        self.run_worker(self._register(form), name="register-unknown", group="unknown", exclusive=True)

    async def _register(self, arrival: UnknownArrival) -> None:
        try:
            made = await self._kiosk.services.lookup.get().register_unknown(arrival)
        except Exception as exc:  # the service answers with an outcome; if it raises, the clerk reads that it failed
            log.error("registering an unidentified patient failed: %s", type(exc).__name__)
            made = None
        await self.show_registered(made)

    async def show_registered(self, made: TemporaryPatient | None) -> None:
        """Show the registration's answer (None: it could not be made); a failure lets the clerk try again."""
        if made is not None and made.status != "failed":
            log.info("unidentified patient registered (%s)", made.status)
        self.registered = made
        self._failed = made is None
        self.query_one("#form-error", Words).update("")
        self._lock_form()
        self._printed = []
        await self._redraw_result()

    # -- after registering -----------------------------------------------------------------------------------------

    @on(Button.Pressed, "#print-band")
    def _print_pressed(self) -> None:
        if self.registered is not None:
            self.query_one("#print-band", Button).disabled = True
            self.run_worker(self._print(self.registered), name="print-wristband", group="print", exclusive=True)

    async def _print(self, made: TemporaryPatient) -> None:
        from kiosk.printing import PrintError, Wristband
        from kiosk.printing.files import print_wristband

        settings = self._kiosk.settings
        band = Wristband(number=made.number, arrival=made.arrival)
        try:
            # Fonts, layout and `lp` take a moment: off the screen's loop, which keeps drawing.
            printed = await asyncio.to_thread(
                print_wristband, band, settings.print_dir, settings.printer, settings.print_font_dir
            )
        except PrintError as exc:
            log.warning("wristband not printed: %s", type(exc).__name__)
            self._printed = [("unknown.print-failed", {}), ("", {"detail": str(exc)})]
        else:
            self._printed = [("unknown.printed", {"png": str(printed.png), "pdf": str(printed.pdf)})]
            if printed.printer is not None:
                self._printed.append(("unknown.printed-sent", {"printer": printed.printer}))
        self.query_one("#print-result", Words).update(self._print_words())
        self.query_one("#print-band", Button).disabled = False

    @on(Button.Pressed, "#open-patient")
    def _open_pressed(self) -> None:
        if self.registered is not None:
            # The same path as a number typed at the search: the lookup finds the patient by its identifier.
            self.post_message(ScanTextReceived(printed_number(self.registered.number), "keyboard"))

    @on(Button.Pressed, "#back")
    async def _back(self) -> None:
        await self.run_action("app.start_over")
