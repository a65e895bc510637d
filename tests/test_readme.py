"""README.md's and docs/*.md's examples, run in order through the real `cnmlab` on the suite's
engine, their outputs compared with what the page shows. The convention is in doc_examples.py."""

import pytest
from doc_examples import AMBIGUOUS, ROOT, RUN, Runner, blocks, matches

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = [b for page in PAGES for b in blocks(page) if b.lang in RUN]


@pytest.fixture(scope="module")
def runners():
    made: dict = {}
    yield made
    for runner in made.values():
        runner.close()


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("block", EXAMPLES, ids=[b.where for b in EXAMPLES])
def test_example_runs_as_written(block, runners, engine):
    runners.setdefault(block.path, Runner()).run(block)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_shell_snippet_says_whether_it_runs(page):
    unclear = [b.where for b in blocks(page) if b.lang in AMBIGUOUS]
    assert not unclear, f"use ```console (run as a test) or ```text (illustrative) at {', '.join(unclear)}"


def test_the_transcript_matcher():
    assert matches(["a  b", "...", "z"], ["a b ", "", "x", "y", "z"])
    assert matches(["..."], []) and matches([], [""]) and matches(["a", "..."], ["a"])
    assert not matches(["a"], ["a", "b"]) and not matches([], ["a"]) and not matches(["a", "...", "z"], ["a", "y"])
