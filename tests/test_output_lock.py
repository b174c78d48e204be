"""One run per output directory (electra_hf/output_lock.py): a live holder refuses a second run, a dead one's
lock is taken over, the lock goes when the run ends; pre-training and fine-tuning both hold it."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import run_pretraining
from electra_hf.output_lock import LOCK_FILE, output_dir_lock


def hold(folder, pid, host=None):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, LOCK_FILE), "w") as f:
        json.dump({"host": host or socket.gethostname(), "pid": pid, "started": "then", "command": "run X"}, f)


@pytest.fixture
def live_pid():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


@pytest.fixture
def dead_pid():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_a_live_holder_refuses_a_second_run(tmp_path, live_pid):
    hold(tmp_path, live_pid)
    with pytest.raises(ValueError, match=rf"in use by another run \(pid {live_pid}, started then: run X\)"):
        with output_dir_lock(str(tmp_path)):
            pass
    hold(tmp_path, 1, host="elsewhere")  # another host's run cannot be checked: it is trusted
    with pytest.raises(ValueError, match="pid 1 on elsewhere.*delete"):
        with output_dir_lock(str(tmp_path)):
            pass


def test_a_dead_holder_is_taken_over_and_the_lock_released(tmp_path, dead_pid, caplog):
    hold(tmp_path, dead_pid)
    with output_dir_lock(str(tmp_path)):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(ValueError, match="in use"):  # the same folder twice, even in one process
            with output_dir_lock(str(tmp_path)):
                pass
    assert "Taking over" in caplog.text and not (tmp_path / LOCK_FILE).exists()
    with pytest.raises(RuntimeError):  # released on an error too
        with output_dir_lock(str(tmp_path)):
            raise RuntimeError
    assert not (tmp_path / LOCK_FILE).exists()


def test_pretraining_and_fine_tuning_refuse_a_folder_in_use(tmp_path, live_pid, discriminator):
    import run_glue

    hold(tmp_path / "pre", live_pid)
    with pytest.raises(ValueError, match="in use by another run"):
        run_pretraining.main(["--preset", "tiny", "--output_dir", str(tmp_path / "pre"), "--report_to", "none"])
    csv = tmp_path / "t.csv"
    csv.write_text("sentence,label\nit was good,1\nit was bad,0\n")
    hold(tmp_path / "ft", live_pid)
    with pytest.raises(ValueError, match="in use by another run"):
        run_glue.main(["--model_name_or_path", str(discriminator), "--train_file", str(csv), "--validation_file",
                       str(csv), "--output_dir", str(tmp_path / "ft"), "--report_to", "none", "--max_steps", "1"])


RACER = """import os, sys, time
from electra_hf.output_lock import output_dir_lock
folder, go = sys.argv[1:]
while not os.path.exists(go):
    time.sleep(0.001)
try:
    with output_dir_lock(folder):
        print("held", flush=True)
        time.sleep(1.5)
except ValueError as err:
    print("refused" if "in use by another run" in str(err) else err, flush=True)
"""


@pytest.mark.parametrize("left", [None, "dead", "empty"], ids=["fresh folder", "a dead run's lock",
                                                            "a lock left half-written"])
def test_runs_started_at_the_same_moment_one_holds(tmp_path, dead_pid, left):
    """Four processes released at once onto one folder (empty, or with a killed run's lock to take over, whole
    or half-written): exactly one holds it, the others are refused."""
    folder, go = tmp_path / "out", tmp_path / "go"
    if left == "dead":
        hold(folder, dead_pid)
    elif left == "empty":  # killed between creating the file and writing it, a while ago
        folder.mkdir()
        (folder / LOCK_FILE).touch()
        os.utime(folder / LOCK_FILE, (time.time() - 60, time.time() - 60))
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(folder), str(go)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))})
              for _ in range(4)]
    time.sleep(1.0)  # all four waiting for the signal
    go.touch()
    outcomes = sorted(racer.communicate(timeout=60)[0].strip() for racer in racers)
    assert outcomes == ["held", "refused", "refused", "refused"], outcomes
