"""Words on screen exactly as written: the kiosk never reads what it shows as markup.

Textual reads a `str` given to `Static`, `Label`, a `DataTable` cell or `notify` as content markup: `[b]` turns bold,
`[@click=app.quit]` becomes a live action, and an unbalanced `[/]` is an error that takes the screen down. Names,
allergies, appointment descriptions and a server's refusal come from outside the kiosk, and catalogue sentences have
such values filled in; so the kiosk shows every text as plain text, through here (the catalogues use no markup, and
markup written in them would be shown as it is). Styled text is built from pieces as `rich.text.Text`, never parsed.

- `Words`: the `Static` of the kiosk; every text widget is one (or a `Text` renderable in another widget);
- `cell`: a `DataTable` or Rich `Table` cell, as written;
- `clip`: a value cut to a column's width, with an ellipsis when anything was cut;
- `notify` calls pass `markup=False`.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static


class Words(Static):
    """A `Static` whose text is shown as written, never parsed as markup."""

    def __init__(
        self,
        content: VisualType = "",
        *,
        expand: bool = False,
        shrink: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            content, expand=expand, shrink=shrink, markup=False, name=name, id=id, classes=classes, disabled=disabled
        )


def cell(value: str, style: str = "") -> Text:
    """A table cell showing `value` as written (a `str` cell would be read as markup)."""
    return Text(value, style=style)


def clip(value: str, width: int) -> str:
    """`value` padded or cut to exactly `width` cells; a cut one ends with "…", so nobody reads half a name as whole."""
    if cell_len(value) <= width:
        return set_cell_size(value, width)
    return set_cell_size(value, width - 1) + "…" if width > 0 else ""
