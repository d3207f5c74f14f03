"""The documents, tested: README.md and docs/*.md say what the code does.

docs/CONTRIBUTING-DOCS.md tells writers the rules.

`blocks.py` finds their code blocks (with pytest-examples) and matches a transcript's output;
the test modules run the python blocks, the console transcripts, the figures of `make bench` and
`cronflare cost`, and the repository paths the documents name.
"""
