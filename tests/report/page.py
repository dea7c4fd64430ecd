"""The report's HTML parsed with the standard library: elements, attributes, table rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Row:
    """One ``<tr>``: its attributes and its cells' text."""

    attrs: dict[str, str]
    cells: list[str] = field(default_factory=list)

    @property
    def css_class(self) -> str:
        return self.attrs.get("class", "")


class Page(HTMLParser):
    """Every start tag with its attributes, table row and text outside scripts of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.rows: list[Row] = []
        self.texts: list[str] = []
        self._cell: list[str] | None = None
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        self._in_script = tag == "script"
        if tag == "tr":
            self.rows.append(Row(values))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if not self._in_script:
            self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.elements if "id" in attrs]

    def attribute_values(self, *names: str) -> list[str]:
        return [attrs[n] for _, attrs in self.elements for n in names if n in attrs]

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]
