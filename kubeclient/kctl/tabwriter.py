"""Go's text/tabwriter (with the liggitt/tabwriter RememberWidths extension), as kubectl uses it.

Why: kubectl aligns every table (``get``, ``api-resources``) and every
``describe`` page with a tabwriter; matching its output byte for byte means
running the same elastic-tabstop algorithm, not an approximation of it:
cells end at a tab, the last cell of a line is never padded, a column block
is a run of consecutive lines that have a cell in that column, and a line
without tabs flushes everything buffered before it.

Invariant: ``TabWriter.write`` + ``flush`` produce exactly what Go's
``Writer.Write`` + ``Flush`` would for space padding and no HTML filtering.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Cell:
    text: str = ""
    htab: bool = False

    @property
    def width(self) -> int:
        return len(self.text)


@dataclass
class TabWriter:
    """Buffers tab-separated text and renders it aligned on ``flush``.

    ``minwidth``/``padding`` as Go's Init; ``remember_widths`` keeps the widest
    width seen per column across flushes (kubectl's watch output relies on it
    so rows printed one event at a time stay aligned).
    """

    minwidth: int = 0
    padding: int = 0
    remember_widths: bool = False
    _lines: list[list[_Cell]] = field(default_factory=lambda: [[]])
    _cell: list[str] = field(default_factory=list)
    _widths: list[int] = field(default_factory=list)
    _maxwidths: list[int] = field(default_factory=list)
    _out: list[str] = field(default_factory=list)

    def set_remembered_widths(self, widths: list[int] | None) -> None:
        self._maxwidths = list(widths or [])

    def write(self, text: str) -> None:
        start = 0
        for i, ch in enumerate(text):
            if ch in "\t\v\n\f":
                self._cell.append(text[start:i])
                start = i + 1
                ncells = self._terminate_cell(htab=ch == "\t")
                if ch in "\n\f":
                    self._lines.append([])
                    if ch == "\f" or ncells == 1:
                        self._flush_buffer()
        self._cell.append(text[start:])

    def flush(self) -> str:
        """Render everything buffered; returns (and forgets) all output produced so far."""
        self._flush_buffer()
        out = "".join(self._out)
        self._out = []
        return out

    # ---- internals (names follow tabwriter.go) ---------------------------

    def _terminate_cell(self, *, htab: bool) -> int:
        line = self._lines[-1]
        line.append(_Cell("".join(self._cell), htab))
        self._cell = []
        return len(line)

    def _flush_buffer(self) -> None:
        pending = "".join(self._cell)
        if pending:
            self._terminate_cell(htab=False)
        self._format(0, len(self._lines))
        self._lines = [[]]
        self._cell = []
        self._widths = []

    def _write_lines(self, line0: int, line1: int) -> None:
        for i in range(line0, line1):
            line = self._lines[i]
            for j, c in enumerate(line):
                if c.text:
                    self._out.append(c.text)
                if j < len(self._widths):
                    self._out.append(" " * (self._widths[j] - c.width))
            if i + 1 != len(self._lines):
                self._out.append("\n")

    def _format(self, line0: int, line1: int) -> None:
        column = len(self._widths)
        this = line0
        while this < line1:
            line = self._lines[this]
            if column >= len(line) - 1:
                this += 1
                continue
            self._write_lines(line0, this)
            line0 = this
            width = self.minwidth
            while this < line1:
                line = self._lines[this]
                if column >= len(line) - 1:
                    break
                width = max(width, line[column].width + self.padding)
                this += 1
            if self.remember_widths:
                if len(self._maxwidths) < len(self._widths):
                    self._maxwidths.extend(self._widths[len(self._maxwidths):])
                if len(self._maxwidths) == len(self._widths):
                    self._maxwidths.append(width)
                elif self._maxwidths[len(self._widths)] > width:
                    width = self._maxwidths[len(self._widths)]
                else:
                    self._maxwidths[len(self._widths)] = width
            self._widths.append(width)
            self._format(line0, this)
            self._widths.pop()
            line0 = this
        self._write_lines(line0, line1)


def kubectl_writer() -> TabWriter:
    """printers.GetNewTabWriter: minwidth 6, padding 3, RememberWidths."""
    return TabWriter(minwidth=6, padding=3, remember_widths=True)


def tabbed(text: str) -> str:
    """describe's tabbedString: minwidth 0, padding 2."""
    w = TabWriter(minwidth=0, padding=2)
    w.write(text)
    return w.flush()
