"""prepare_data.py: examples built once, saved in shards, read by run_pretraining.py --prepared_data without
building anything; they are the examples run_pretraining.py builds itself from the same corpus and seed."""

import datasets
import pytest

import prepare_data
import run_pretraining
from electra_hf.data.prepared import INFO_FILE, load_prepared

from .test_run_pretraining import args_for, corpus  # noqa: F401 - corpus is a fixture


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("prepared")
    info = prepare_data.main(["--preset", "tiny", "--train_files", str(corpus / "c.txt"), "--output_dir",
                              str(folder), "--num_shards", "2", "--seed", "42"])
    return folder, info


def test_prepared_examples_are_the_ones_a_run_builds(prepared, corpus, tmp_path):  # noqa: F811
    folder, info = prepared
    examples, tokenizer, saved = load_prepared(str(folder))
    assert saved == info and info["shards"] == 2 and info["max_seq_length"] == 128 and len(examples) == info["examples"]
    assert len(tokenizer) == 30522 and not (folder / "cache").exists()
    # the run builds its own from the same corpus and seed: the same rows (its cache holds them)
    run_pretraining.main(args_for(corpus, tmp_path / "built", max_steps=1, eval_size=0, seed=42,
                                  data_cache_dir=str(tmp_path / "cache")))
    built = datasets.concatenate_datasets([datasets.Dataset.from_file(str(path))
                                           for path in sorted((tmp_path / "cache").glob("electra-examples-*.arrow"))])
    assert built["input_ids"] == examples["input_ids"]


def test_a_run_on_prepared_examples_builds_nothing(prepared, tmp_path, caplog):
    folder, info = prepared
    caplog.set_level("INFO")
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*")}
    metrics = run_pretraining.main(args_for(tmp_path, tmp_path / "run", train_files=None, prepared_data=str(folder),
                                            max_steps=2, data_cache_dir=str(tmp_path / "cache")))
    assert "eval_disc_auc" in metrics
    assert not (tmp_path / "cache").exists()  # no corpus read, no example built
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*")} == before  # nothing written there
    assert f"the examples prepared in {folder}" in caplog.text


def test_prepared_data_mistakes_are_named(prepared, corpus, tmp_path):  # noqa: F811
    folder, _ = prepared
    with pytest.raises(ValueError, match="holds examples of up to 128 tokens, not --max_seq_length 64"):
        run_pretraining.main(args_for(tmp_path, tmp_path / "a", train_files=None, prepared_data=str(folder),
                                      max_seq_length=64))
    with pytest.raises(ValueError, match="drop --train_files"):
        run_pretraining.main(args_for(corpus, tmp_path / "b", prepared_data=str(folder)))
    with pytest.raises(ValueError, match="not streamed.*drop --train_tokenizer, --streaming"):
        run_pretraining.main(args_for(tmp_path, tmp_path / "b", train_files=None, prepared_data=str(folder),
                                      train_tokenizer=True, streaming=True))
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(FileNotFoundError, match=INFO_FILE):
        run_pretraining.main(args_for(tmp_path, tmp_path / "c", train_files=None,
                                      prepared_data=str(tmp_path / "unfinished")))
    with pytest.raises(ValueError, match="already holds prepared examples"):
        prepare_data.main(["--preset", "tiny", "--train_files", str(corpus / "c.txt"), "--output_dir", str(folder)])


def test_preparing_again_replaces_every_shard(corpus, tmp_path):  # noqa: F811
    def prepare(shards):
        return prepare_data.main(["--preset", "tiny", "--train_files", str(corpus / "c.txt"), "--output_dir",
                                  str(tmp_path), "--num_shards", str(shards), "--overwrite_output_dir"])

    prepare(3)
    info = prepare(1)
    assert info["shards"] == 1 and len(list((tmp_path / "examples").glob("*.arrow"))) == 1
    assert len(load_prepared(str(tmp_path))[0]) == info["examples"]
