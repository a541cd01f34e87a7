"""The report's HTML pages: each executed notebook as a page that works offline and links to its neighbours.

Maths is written as MathML when the page is built (a browser draws MathML itself: no MathJax
from the network), links to another notebook of the report point to its page, and every page
links back to the front page. Nothing on a page is fetched from the network.
"""
import re

from latex2mathml.converter import convert as latex_to_mathml

FRONT_PAGE = "index.html"

# Code, where a dollar is a dollar (fenced blocks, inline spans), else $$display$$ or $inline$ maths
# (not after a backslash, not empty, within one paragraph).
_CODE_OR_MATH = re.compile(r"(?P<code>```.*?```|~~~.*?~~~|(?P<ticks>`+).+?(?P=ticks))"
                           r"|\$\$(?P<display>.+?)\$\$"
                           r"|(?<![\\$])\$(?!\s)(?P<inline>(?:[^$\n]|\n(?!\s*\n))+?)(?<!\s)\$", re.DOTALL)

# nbconvert's own page, less what it fetches from the network: MathJax, require.js and mermaid.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def mathml_markdown(markdown):
    """Markdown with its TeX maths (``$...$`` and ``$$...$$``) replaced by MathML; code left as it is.

    Examples
    --------
    >>> mathml_markdown("a $x^2$ and `$HOME`")[:9]
    'a <math x'
    """
    def convert(match):
        if match["code"]:
            return match["code"]
        display = match["display"] is not None
        tex = (match["display"] if display else match["inline"]).strip()
        return latex_to_mathml(tex, display="block" if display else "inline").replace("\n", " ")

    return _CODE_OR_MATH.sub(convert, markdown)


def html_links(markdown, pages):
    """Markdown whose links to a notebook of ``pages`` (names without suffix) point to its HTML page instead.

    ``[02](02_preprocessing.ipynb#Anchor)`` becomes ``[02](02_preprocessing.html#Anchor)``; links
    to anything else are left as they are.
    """
    def page(match):
        name, anchor = match.groups()
        return f"]({name}.html{anchor or ''})" if name in pages else match.group(0)

    return re.sub(r"\]\(([^()\s#]+)\.ipynb(#[^()\s]*)?\)", page, markdown)


def offline_notebook(notebook, pages):
    """A copy of an executed notebook ready to render: MathML for maths, links between pages, a link home.

    Markdown cells and Markdown outputs (text a cell computed) are both rewritten.
    """
    import copy

    from nbformat.v4 import new_markdown_cell

    def rewrite(markdown):
        return mathml_markdown(html_links(markdown, pages))

    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite(cell.source)
        for output in cell.get("outputs", []):
            if "text/markdown" in output.get("data", {}):
                output["data"]["text/markdown"] = rewrite(output["data"]["text/markdown"])
    home = f"[Front page of the course]({FRONT_PAGE})"
    notebook.cells = [new_markdown_cell(home), *notebook.cells, new_markdown_cell(home)]
    return notebook


def page_title(notebook, default="Notebook"):
    """The first Markdown heading of a notebook, e.g. "01 · The data and the Lab colour space"."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return default


def notebook_page(notebook, pages):
    """An executed notebook as one standalone HTML page that fetches nothing from the network.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
    pages : collection of str
        The report's notebooks (names without ``.ipynb``): links to them go to their pages.

    Returns
    -------
    str
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(offline_notebook(notebook, pages), resources={"metadata": {"name": page_title(notebook)}})
    return body
