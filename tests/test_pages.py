"""The report's HTML pages: maths drawn without a network, links from page to page and home."""
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from colorlib.pages import FRONT_PAGE, html_links, mathml_markdown
from colorlib.report import NOTEBOOKS, write_html

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"


class VisibleText(HTMLParser):
    """A page's text as a reader sees it (no scripts, no styles), its links, and its MathML elements."""

    def __init__(self):
        super().__init__()
        self.hidden, self.text, self.links, self.maths = 0, [], [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style")
        self.maths += tag == "math"
        if tag == "a":
            self.links.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.hidden:
            self.text.append(data)


def read_page(path):
    page = VisibleText()
    page.feed(Path(path).read_text())
    return page


def test_maths_becomes_mathml_and_code_keeps_its_dollars():
    markdown = mathml_markdown("With $x$ the input:\n\n$$\\mathcal{L} = \\lambda\\, \\lVert y \\rVert_1$$\n\n"
                               "`echo $HOME` and \\$5, not maths\n```\nprice = \"$1 and $2\"\n```")
    assert markdown.count("<math ") == 2 and 'display="block"' in markdown
    assert "`echo $HOME`" in markdown and "\\$5" in markdown and 'price = "$1 and $2"' in markdown
    assert "\\mathcal" not in markdown


def test_links_to_the_reports_notebooks_go_to_their_pages():
    text = html_links("Next: [02](02_preprocessing.ipynb); [06](06_colorize_your_photos.ipynb#Preprocessing,-then-"
                      "colorizing); [other](elsewhere.ipynb)", NOTEBOOKS)
    assert text == ("Next: [02](02_preprocessing.html); [06](06_colorize_your_photos.html#Preprocessing,-then-"
                    "colorizing); [other](elsewhere.ipynb)")


def test_a_page_fetches_nothing_and_shows_no_tex(tmp_path):
    notebook = new_notebook(cells=[new_markdown_cell("# 04 · A title\n\nThe loss $\\ell$ and\n\n$$a^2 + b^2$$"),
                                   new_code_cell("Markdown(...)", outputs=[new_output(
                                       "display_data", {"text/markdown": "computed $$\\tfrac{1}{2} x$$",
                                                        "text/plain": "<Markdown>"})]),
                                   new_markdown_cell("Next: [05](05_ssim_analysis.ipynb)")])
    nbformat.write(notebook, tmp_path / "04_train_gan.ipynb")
    write_html(tmp_path / "04_train_gan.ipynb", tmp_path / "04_train_gan.html")
    html = (tmp_path / "04_train_gan.html").read_text()
    assert not re.search(r"""(src|href)=["']https?://|import\(["']https?://""", html)
    assert "<title>04 · A title</title>" in html
    page = read_page(tmp_path / "04_train_gan.html")
    assert page.maths == 3 and "$" not in "".join(page.text)
    assert page.links[0] == page.links[-1] == FRONT_PAGE and "05_ssim_analysis.html" in page.links


def next_links(page):
    """The targets of a page's "Next:" paragraphs."""
    return re.findall(r'Next: <a href="([^"]+)"', Path(page).read_text())


@pytest.fixture(scope="module")
def built_pages(tmp_path_factory):
    """The committed notebooks (executed on the smoke profile) rendered as a report renders them."""
    folder = tmp_path_factory.mktemp("pages")
    for name in NOTEBOOKS:
        shutil.copy(NOTEBOOKS_DIR / f"{name}.ipynb", folder)
        write_html(folder / f"{name}.ipynb", folder / f"{name}.html")
    (folder / FRONT_PAGE).write_text("<html></html>")  # its own tests are test_report's
    return folder


def test_every_next_link_of_a_built_report_resolves_to_its_next_page(built_pages):
    for name, following in zip(NOTEBOOKS, NOTEBOOKS[1:]):
        links = next_links(built_pages / f"{name}.html")
        assert links, f"{name} has no Next link"
        for link in links:
            target = link.split("#")[0]
            assert target.endswith(".html") and (built_pages / target).is_file(), (name, link)
        assert links[-1].split("#")[0] == f"{following}.html", name
    for name in NOTEBOOKS:
        page = read_page(built_pages / f"{name}.html")
        assert FRONT_PAGE in page.links, f"{name} has no link to the front page"
        local = [link.split("#")[0] for link in page.links if link and not link.startswith(("#", "http"))]
        assert all((built_pages / link).is_file() for link in local), (name, local)


@pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("unshare") is None,
                    reason="needs chromium and unshare (a network namespace with no network)")
def test_chromium_without_a_network_shows_no_raw_tex(built_pages):
    for name in ("01_data_and_lab", "03_pretrain_generator", "04_train_gan"):
        try:
            dom = subprocess.run(["unshare", "-n", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                  "--dump-dom", (built_pages / f"{name}.html").as_uri()],
                                 capture_output=True, text=True, timeout=120, check=True).stdout
        except (subprocess.CalledProcessError, PermissionError) as error:
            pytest.skip(f"chromium could not run without a network here: {error}")
        page = VisibleText()
        page.feed(dom)
        text = "".join(page.text)
        assert page.maths and "$$" not in text and "\\mathcal" not in text and "\\sqrt" not in text, name
