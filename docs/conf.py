"""Sphinx settings for the course site (`make site`): the notebooks with their stored outputs, and docs/.

tools/site.py stages docs/*.md and notebooks/*.ipynb into build/site-src and runs sphinx-build with this folder as
its configuration (-c docs). Nothing is executed (the outputs are a real run's) and nothing is fetched: the site
builds and reads offline.
"""
project = "Multi-stage Dockerfiles, hands on"
author = "the course's authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"                 # the stored outputs come from a real run; building never runs a cell
nb_merge_streams = True
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the course",
}
html_static_path: list[str] = []
html_last_updated_fmt = None
html_show_sourcelink = False
