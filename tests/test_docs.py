"""The docs cannot drift from the code: the README's two commands are what CI runs, every entry-point example in it
parses with that entry point's own arguments (the examples name Hub models and data a test cannot fetch), and
docs/parity.md cites tests and modules that exist."""

import os
import re
import shlex

import pytest

import convert_tf_checkpoint
import run_glue
import run_pretraining
import run_qa
import run_tagging
from electra_hf import score
from electra_hf.cli import parse_arguments

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def commands() -> list[str]:
    """Each command line of the README's bash blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


def test_the_two_commands_are_what_ci_and_the_demo_run():
    lines = commands()
    assert "bash scripts/demo.sh" in lines and "bash scripts/test.sh" in lines
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert re.search(r"^bash scripts/test\.sh$", ci, re.MULTILINE) and re.search(r"^bash scripts/demo\.sh$", ci,
                                                                                re.MULTILINE)
    assert "python run_pretraining.py" in open(os.path.join(ROOT, "scripts", "demo.sh")).read()


PARSERS = {
    "run_pretraining.py": run_pretraining.parse_arguments,
    "run_glue.py": run_glue.parse_glue_arguments,
    "run_qa.py": run_qa.parse_qa_arguments,
    "run_tagging.py": lambda argv: run_tagging.parse_finetuning_arguments(
        (run_tagging.DataArguments,), {}, argv),
    "convert_tf_checkpoint.py": convert_tf_checkpoint.parse_arguments,
    "-m electra_hf.score": lambda argv: parse_arguments((score.ScoreArguments,), {}, argv),
}


@pytest.mark.parametrize("line", [c for c in commands() if c.startswith("python ")])
def test_every_example_parses(line):
    words = shlex.split(line)[1:]
    entry = " ".join(words[:2]) if words[0] == "-m" else words[0]
    argv = words[2:] if words[0] == "-m" else words[1:]
    assert entry in PARSERS, f"an entry point the README uses but this test does not know: {entry}"
    PARSERS[entry](argv)  # argparse exits on an unknown or malformed argument


def test_parity_cites_tests_and_code_that_exist():
    """docs/parity.md names, for each detail, the test that would fail if it were wrong: each must exist."""
    parity = open(os.path.join(ROOT, "docs", "parity.md"), encoding="utf-8").read()
    cited = set(re.findall(r"(tests/test_\w+\.py)::(\w+)", parity))
    assert len(cited) > 50
    missing = [f"{path}::{name}" for path, name in sorted(cited)
               if not re.search(rf"^def {name}\(", open(os.path.join(ROOT, path)).read(), re.MULTILINE)]
    assert not missing, f"docs/parity.md cites tests that do not exist: {missing}"
    modules = set(re.findall(r"`(electra_hf/[\w/]+\.py)`", parity))
    assert modules and not [m for m in modules if not os.path.exists(os.path.join(ROOT, m))]
