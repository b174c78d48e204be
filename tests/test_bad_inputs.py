"""Bad input to every entry point ends in one line, `<script>: error: <what and where>`, exit status 2, no
traceback (run in this process through each script's command path; `--debug` shows the traceback)."""

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

import convert_tf_checkpoint
import run_glue
import run_pretraining
import run_qa
import run_tagging
from electra_hf import score
from electra_hf.conversion.tf_bundle import write_checkpoint_state, write_tf_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATIN1 = "Mrs. Bennet was caf\xe9 and na\xefve.\n".encode("latin-1")


@pytest.fixture(scope="module")
def d(tmp_path_factory, discriminator):
    """A folder of bad inputs (and the good pieces they need)."""
    root = tmp_path_factory.mktemp("bad")
    files = {
        "empty.txt": b"", "blank.txt": b"\n  \n\t\n", "latin1.txt": LATIN1 * 20,
        "not_json.json": b'{"output_dir": "x",', "list.json": b"[1, 2]",
        "wrong_type.json": json.dumps({"max_steps": "ten", "output_dir": str(root / "o")}).encode(),
        "wrong_choice.json": json.dumps({"preset": "huge", "output_dir": str(root / "o")}).encode(),
        "no_model.json": json.dumps({"task_name": "sst2", "output_dir": str(root / "o")}).encode(),
        "latin1.tsv": b"sentence\tlabel\n" + LATIN1.strip() + b"\t1\n",
        "extra_field.csv": b"sentence,label\nit was good,1\nit was bad,0,surplus\n",
        "no_label.csv": b"sentence,score\nit was good,1\n",
        "good.csv": b"sentence,label\nit was good,1\nit was bad,0\n",
        "latin1.conll": b"-DOCSTART- O\n\n" + b"caf\xe9 NN B-NP\n",
        "bad_conll.txt": b"Rockwell NNP B-NP\nsaid\n\n",
        "not_squad.json": b'{"data": [{"title": "x"}]}',
        "squad_truncated.json": b'{"version": "v2.0", "data": [',
        "nul.txt": b"\x00\x00\x01\x02\n",
        "pointer_missing/checkpoint": b'model_checkpoint_path: "model.ckpt-99"\n',
    }
    for name, content in files.items():
        os.makedirs(os.path.dirname(root / name), exist_ok=True)
        (root / name).write_bytes(content)
    write_tf_checkpoint(str(root / "pointer_missing" / "model.ckpt-3"), [("global_step", torch.tensor(3))])
    write_checkpoint_state(str(root / "pointer_missing"), "model.ckpt-3")
    (root / "pointer_missing" / "checkpoint").write_bytes(files["pointer_missing/checkpoint"])
    return {"root": str(root), "model": str(discriminator)}


PRE = ["--output_dir", "{root}/pre", "--preset", "tiny", "--max_steps", "1", "--report_to", "none"]
GLUE = ["--model_name_or_path", "{model}", "--output_dir", "{root}/glue", "--max_steps", "1", "--report_to", "none"]
CASES = [
    # (script, argv, what the message must say)
    ("run_pretraining", ["--train_files", "{root}/missing.txt", *PRE], r"missing\.txt"),
    ("run_pretraining", ["--train_files", "{root}/empty.txt", *PRE], r"empty\.txt.*(empty|no text)"),
    ("run_pretraining", ["--train_files", "{root}/blank.txt", *PRE], r"blank\.txt.*(empty|no text)"),
    ("run_pretraining", ["--train_files", "{root}/latin1.txt", *PRE], r"latin1\.txt.*UTF-8"),
    ("run_pretraining", ["--config_overrides", "{{disc_weight: 3", *PRE], r"--config_overrides.*JSON"),
    ("run_pretraining", ["--config_overrides", '{{"no_such_field": 3}}', *PRE], r"no_such_field"),
    ("run_pretraining", ["--hparams", "{{oops", *PRE], r"--hparams.*JSON"),
    ("run_pretraining", ["{root}/not_json.json"], r"not_json\.json is not valid JSON"),
    ("run_pretraining", ["{root}/list.json"], r"list\.json holds a JSON list"),
    ("run_pretraining", ["{root}/wrong_type.json"], r"wrong_type\.json: max_steps.*'ten'.*int"),
    ("run_pretraining", ["{root}/wrong_choice.json"], r"preset is 'huge'; choose one of"),
    ("run_pretraining", ["{root}/missing.json"], r"missing\.json"),
    ("run_pretraining", ["--max_seq_length", "1024", *PRE], r"max_seq_length=1024"),
    ("run_pretraining", ["--discriminator_name_or_path", "{model}", *PRE], r"--generator_name_or_path"),
    ("run_glue", [*GLUE, "--train_file", "{root}/latin1.tsv", "--validation_file", "{root}/latin1.tsv"],
     r"latin1\.tsv.*UTF-8"),
    ("run_glue", [*GLUE, "--train_file", "{root}/extra_field.csv", "--validation_file", "{root}/good.csv"],
     r"extra_field\.csv.*line 3"),
    ("run_glue", [*GLUE, "--train_file", "{root}/no_label.csv", "--validation_file", "{root}/no_label.csv"],
     r"no_label\.csv.*label"),
    ("run_glue", [*GLUE, "--train_file", "{root}/missing.csv", "--validation_file", "{root}/good.csv"],
     r"missing\.csv"),
    ("run_glue", [*GLUE, "--task_name", "sst2", "--glue_dir", "{root}/nowhere"], r"nowhere"),
    ("run_glue", [*GLUE], r"--task_name"),
    ("run_glue", ["--task_name", "sst2", "--output_dir", "{root}/g"], r"required: --model_name_or_path"),
    ("run_glue", ["{root}/no_model.json"], r"no_model\.json.*model_name_or_path"),
    ("run_glue", ["--model_name_or_path", "{root}/no_model", "--task_name", "sst2", "--output_dir", "{root}/g"],
     r"no_model"),
    ("run_qa", [*GLUE, "--train_file", "{root}/not_squad.json", "--validation_file", "{root}/not_squad.json"],
     r"not_squad\.json"),
    ("run_qa", [*GLUE, "--train_file", "{root}/squad_truncated.json", "--validation_file",
                "{root}/squad_truncated.json"], r"squad_truncated\.json.*JSON"),
    ("run_tagging", [*GLUE, "--train_file", "{root}/latin1.conll", "--validation_file", "{root}/latin1.conll"],
     r"latin1\.conll.*UTF-8"),
    ("run_tagging", [*GLUE, "--train_file", "{root}/bad_conll.txt", "--validation_file", "{root}/bad_conll.txt"],
     r"bad_conll\.txt.*line 2"),
    ("convert_tf_checkpoint", ["tf2hf", "--checkpoint", "{root}/pointer_missing", "--output_dir", "{root}/c"],
     r"model\.ckpt-99"),
    ("convert_tf_checkpoint", ["tf2hf", "--checkpoint", "{root}/latin1.txt", "--output_dir", "{root}/c"],
     r"latin1\.txt"),
    ("score", ["--model", "{model}", "--input", "{root}/latin1.txt"], r"latin1\.txt.*UTF-8"),
    ("score", ["--model", "{model}", "--input", "{root}/nul.txt"], r"nul\.txt line 1.*no tokens"),
    ("score", ["--model", "{model}", "--input", "{root}/missing.txt"], r"missing\.txt"),
]
MODULES = {"run_pretraining": run_pretraining, "run_glue": run_glue, "run_qa": run_qa, "run_tagging": run_tagging,
           "convert_tf_checkpoint": convert_tf_checkpoint, "score": score}
PROG = {"score": "electra_hf.score"}


@pytest.mark.parametrize("script, argv, message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line(script, argv, message, d, monkeypatch, capsys):
    argv = [a.format(**d) for a in argv]
    prog = PROG.get(script, f"{script}.py")
    monkeypatch.setattr(sys, "argv", [prog, *argv])
    # datasets' handler, made during an earlier test, writes to that test's closed stream: point it at this one
    for handler in logging.getLogger("datasets").handlers:
        if type(handler) is logging.StreamHandler:
            handler.stream = sys.stderr
    monkeypatch.chdir(d["root"])
    with pytest.raises(SystemExit) as stopped:
        MODULES[script].main()
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"{prog}: error: ")
    assert __import__("re").search(message, last), last


def test_debug_shows_the_traceback(d):
    """In a fresh process (the cases above run the same command path in this one, without --debug)."""
    argv = [sys.executable, "run_pretraining.py", "--train_files", os.path.join(d["root"], "empty.txt"),
            "--output_dir", os.path.join(d["root"], "dbg"), "--preset", "tiny", "--debug"]
    loud = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert loud.returncode == 1 and "Traceback" in loud.stderr and "empty.txt" in loud.stderr


LIGHT_CASES = [  # a missing path per entry point, and a value of a script's own arguments
    ("run_pretraining.py", ["--train_files", "missing.txt"]),
    ("run_glue.py", ["--model_name_or_path", "./no_model", "--task_name", "sst2"]),
    ("run_qa.py", ["--model_name_or_path", "{model}", "--train_file", "missing.json"]),
    ("run_tagging.py", ["--model_name_or_path", "{model}", "--validation_file", "missing.txt"]),
    ("convert_tf_checkpoint.py", ["tf2hf", "--checkpoint", "missing/model.ckpt-1", "--output_dir", "out"]),
    ("electra_hf.score", ["--model", "{model}", "--input", "missing.txt"]),
    ("run_pretraining.py", ["--preset", "huge"]),
]
PROBE = """import runpy, sys
script, *sys.argv[1:] = sys.argv[1:]
sys.argv[0] = script
try:
    runpy.run_module(script, run_name="__main__") if script.startswith("electra_hf.") else runpy.run_path(
        script, run_name="__main__")
except SystemExit as stop:
    print("exit", stop.code, "torch loaded" if "torch" in sys.modules else "torch not loaded")
"""


def test_a_bad_path_fails_before_torch_loads(d, tmp_path):
    """A bad path or value of a script's own arguments is reported before torch is imported (which alone costs
    2-3 of the 4-6 CPU-seconds such an error took): in a fresh process per entry point."""
    for script, argv in LIGHT_CASES:
        args = [a.format(**d) for a in argv]
        probe = subprocess.run([sys.executable, "-c", PROBE,
                                os.path.join(ROOT, script) if script.endswith(".py") else script, *args],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1"})
        assert probe.stdout.strip() == "exit 2 torch not loaded", (script, probe.stdout, probe.stderr[-1500:])
        assert ": error: " in probe.stderr.strip().splitlines()[-1], probe.stderr
