"""Text from the reader's file system (folder and file names) made inert where it is shown.

A name is the reader's data, not markup: in Markdown or HTML a folder called
``<img src=x onerror=alert(3)>`` must read as those characters, and in a CSV file opened by a
spreadsheet a photo called ``=HYPERLINK(...).jpg`` must stay a name, not become a formula.
"""
import csv
import html
import io
import re

# Characters that open or close something within a line of Markdown: emphasis, code, links and
# images, table cells, strikethrough, Jupyter's $math$ (CommonMark lets a backslash escape any
# ASCII punctuation). Those that matter only at the start of a line (#, -, +, 1.) are left: the
# names go mid-sentence.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!|~$])")
# A spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(text):
    """``text`` as Markdown that shows exactly those characters and never markup.

    ``<``, ``>`` and ``&`` become HTML entities and every character that means something within
    a line of Markdown is escaped with a backslash, so a name can neither open a tag nor end a
    code span or a table cell. For text within a line, not at its start; and not inside a code
    span, where escapes are shown as they are: wrap the result in ``<code>`` instead
    (:func:`markdown_code`).

    Parameters
    ----------
    text : object
        Converted with ``str``.

    Returns
    -------
    str
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def markdown_code(text):
    """``text`` in a monospaced span, as :func:`markdown_text` escapes it: ``<code>...</code>``."""
    return f"<code>{markdown_text(text)}</code>"


def spreadsheet_safe(cell):
    """A CSV cell that a spreadsheet shows as text: one starting like a formula gets a leading ``'``.

    Only text is changed, and only text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return (OWASP's advice on CSV injection); numbers stay numbers.
    """
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell


def csv_text(rows):
    """Rows as CSV text (``csv.writer``'s dialect), every text cell passed through :func:`spreadsheet_safe`."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()
