"""Every section the code, params.yaml and README cite exists in the repository's own docs."""

import re

from conftest import REPO

CITATION = re.compile(r"docs/(method|reference-settings)\.md §(\d+)")
CITING = [
    *REPO.glob("src/stretchnas/**/*.py"),
    *REPO.glob("src/stretchnas/**/*.yaml"),
    *REPO.glob("tests/*.py"),
    REPO / "params.yaml",
    REPO / "README.md",
    *REPO.glob("benchmarks/*.py"),
]


def sections(doc: str) -> set[str]:
    text = (REPO / "docs" / f"{doc}.md").read_text()
    return set(re.findall(r"^## §(\d+) ", text, flags=re.MULTILINE))


def test_every_section_citation_resolves():
    known = {doc: sections(doc) for doc in ("method", "reference-settings")}
    citations = [(path, m.group(1), m.group(2)) for path in CITING for m in CITATION.finditer(path.read_text())]
    assert len(citations) > 10
    unresolved = [
        (str(path.relative_to(REPO)), doc, number) for path, doc, number in citations if number not in known[doc]
    ]
    assert not unresolved


def test_nothing_cites_notes_outside_the_repository():
    for path in CITING:
        text = path.read_text()
        for outside in ("METHOD.md", "REFERENCE-IMPLEMENTATIONS", "../shared"):
            assert outside not in text or path.name == "test_docs.py", (path, outside)
