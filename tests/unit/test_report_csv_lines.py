"""The CSV's line ends: rows as PostgreSQL's COPY writes them (LF), converted a chunk of whole rows at
a time into the csv module's CRLF, never touching a line break quoted inside a cell."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from include.campaigns.reporting import crlf_rows

CELLS = st.one_of(st.none(), st.text(alphabet=st.sampled_from('ab,"\r\n \\.'), max_size=8), st.integers())


def copy_csv(rows: list[list], line_end: str = "\n") -> bytes:
    """As COPY ... (FORMAT csv) writes: a cell is quoted when it holds a comma, quote, CR or LF."""

    def cell(value) -> str:
        if value is None:
            return ""
        text = str(value)
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text

    return b"".join((",".join(cell(v) for v in row) + line_end).encode() for row in rows)


def python_csv(rows: list[list]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue().encode()


@given(st.lists(st.lists(CELLS, min_size=2, max_size=4), max_size=12), st.data())
def test_every_row_ends_in_crlf_and_every_quoted_line_break_is_kept(rows, data):
    # Chunks hold whole rows, cut anywhere between them.
    cuts = sorted(data.draw(st.sets(st.integers(0, len(rows)))) | {0, len(rows)})
    converted = b"".join(crlf_rows(copy_csv(rows[a:b])) for a, b in zip(cuts, cuts[1:]))

    assert converted == copy_csv(rows, "\r\n")
    assert list(csv.reader(io.StringIO(converted.decode(), newline=""))) == [
        ["" if v is None else str(v) for v in row] for row in rows
    ]
    # Where no cell is quoted both renderers agree byte for byte.
    if b'"' not in copy_csv(rows):
        assert converted == python_csv(rows)


def test_a_line_break_inside_a_quoted_cell_is_kept_as_it_is():
    rows = b'1,"two\nlines",x\n2,"say ""hi""\r\n",y\n'
    assert crlf_rows(rows) == b'1,"two\nlines",x\r\n2,"say ""hi""\r\n",y\r\n'
