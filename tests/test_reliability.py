"""Faults a real run meets: existing outputs, finished folders, divergence, concurrency, the machine, bad input.

Each test reproduces one fault and checks what is left behind: nothing lost, nothing wrong, one clear line.
"""

import dataclasses
import errno
import hashlib
import io
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, write_image

from stretchnas import cli
from stretchnas.data.cache import PreparedData, PreparedDataError, open_prepared
from stretchnas.data.prepare import prepare_data, prepare_from_settings
from stretchnas.runs import RunError
from stretchnas.runs.atomic import SCRATCH_MARK, OutputError
from stretchnas.runs.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from stretchnas.runs.lock import LOCK_FILE
from stretchnas.search.runner import SearchRun
from stretchnas.settings.params import ConfigError, load_settings
from stretchnas.settings.types import SearchSettings

STRETCHNAS = Path(sys.executable).parent / "stretchnas"
TWO_WAY = {"two_way": {"train": 0.5, "val_alpha": 0.5, "val_beta": 0.0}}


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def last_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    return lines[0]


def smoke_settings():
    return load_settings(REPO / "params.yaml", "smoke", environ={})


def tiny_search(**overrides) -> SearchSettings:
    search = smoke_settings().experiment("milenas_sc_L8").search
    return search.replace(
        layers=3,
        channels=4,
        batch_size=2,
        epochs=1,
        max_steps_per_epoch=4,
        snapshot_epochs=(1,),
        intermediate_nodes=4,
        threads=1,
        checkpoint_every_steps=2,
    ).merged(overrides)


def prepare_tree(tree, out):
    return prepare_data(str(tree), out, "imagefolder", TWO_WAY, 0, None, None)


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != LOCK_FILE)


# --------------------------------------------------------------------------- 1. existing outputs


def test_prepare_data_never_replaces_a_folder_it_did_not_write(imagefolder, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    with pytest.raises(OutputError, match=r"mine: refusing to replace it: it is not a prepared-data folder"):
        prepare_tree(imagefolder, mine)
    assert (mine / "thesis.tex").read_text() == "months of work"

    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(OutputError, match=r"notes\.txt: refusing to replace it: it is a file"):
        prepare_tree(imagefolder, a_file)
    assert a_file.read_text() == "keep me"
    assert hidden_leftovers(tmp_path) == []


def test_a_second_preparation_into_a_folder_being_prepared_is_refused_and_the_first_kept(imagefolder, tmp_path):
    from stretchnas.runs.lock import FolderLock

    out = tmp_path / "prepared"
    first = prepare_tree(imagefolder, out)
    with FolderLock.beside(out):  # a preparation in progress (this live process holds the claim)
        with pytest.raises(RunError, match=r"prepared: another run is using this folder"):
            prepare_data(str(imagefolder), out, "imagefolder", TWO_WAY, 1, None, None)
    assert json.loads((out / "manifest.json").read_text()) == first
    again = prepare_data(str(imagefolder), out, "imagefolder", TWO_WAY, 1, None, None)  # the claim ended
    assert again["splits"]["seed"] == 1 and hidden_leftovers(tmp_path) == []


def test_prepare_data_replaces_its_own_output_but_not_files_added_to_it(imagefolder, tmp_path):
    out = tmp_path / "prepared"
    prepare_tree(imagefolder, out)
    prepare_tree(imagefolder, out)  # our own output, nothing else: replaced
    (out / "my_notes.txt").write_text("added by the user")
    with pytest.raises(OutputError, match=r"also holds files this tool did not write: \['my_notes.txt'\]"):
        prepare_tree(imagefolder, out)
    assert (out / "my_notes.txt").exists() and (out / "manifest.json").exists()


def test_prepare_data_out_dot_is_refused_and_nothing_is_deleted(imagefolder, tmp_path):
    (tmp_path / "work.txt").write_text("precious")
    result = run(
        [
            STRETCHNAS,
            "prepare-data",
            "--params",
            REPO / "params.yaml",
            "--source",
            imagefolder,
            "--dataset",
            "imagefolder",
            "--out",
            ".",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "refusing to replace it" in last_line(result)
    assert (tmp_path / "work.txt").read_text() == "precious"
    assert (imagefolder / "train").is_dir()


def test_stale_scratch_of_a_killed_prepare_is_removed_and_a_live_one_kept(imagefolder, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale, live = tmp_path / ".prepared.abc.tmp", tmp_path / ".prepared.def.tmp"
    for folder, pid in ((stale, dead.pid), (live, os.getpid())):
        folder.mkdir()
        (folder / SCRATCH_MARK).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
        (folder / "train_images.npy").write_bytes(b"0" * 1000)
    unmarked = tmp_path / ".prepared.user.tmp"  # not ours: never touched
    unmarked.mkdir()
    prepare_tree(imagefolder, tmp_path / "prepared")
    assert not stale.exists() and live.exists() and unmarked.exists()


# --------------------------------------------------------------------------- 2. finished runs


def test_a_finished_training_is_never_reported_for_another_genotype_or_width(tiny_search_data, tmp_path):
    args = [
        STRETCHNAS,
        "train",
        "--params",
        REPO / "params.yaml",
        "--scale",
        "smoke",
        "--data",
        tiny_search_data.root,
        "--out",
        tmp_path / "run",
        "--quiet",
        "--layers",
        "3",
    ]
    assert run(args + ["--genotype", "DARTS_V2", "--channels", "4"]).returncode == 0
    before = (tmp_path / "run" / "result.json").read_text()
    wider = run(args + ["--genotype", "DARTS_V2", "--channels", "6"])
    assert wider.returncode == 2 and "channels: 4 (recorded) vs 6 (now)" in last_line(wider)
    other = run(args + ["--genotype", "DARTS_V1", "--channels", "4"])
    assert other.returncode == 2 and "holds a finished train of a different configuration" in last_line(other)
    assert (tmp_path / "run" / "result.json").read_text() == before

    # --supersede (the workflow's jobs, rerun because their settings changed) keeps the earlier run whole
    # under superseded/<time>/ and trains the new one
    superseding = run(args + ["--genotype", "DARTS_V2", "--channels", "6", "--supersede"])
    assert superseding.returncode == 0, superseding.stderr
    assert "moved it to" in superseding.stderr
    (kept,) = (tmp_path / "run" / "superseded").iterdir()
    assert (kept / "result.json").read_text() == before and (kept / "checkpoint.pt").exists()
    assert json.loads((tmp_path / "run" / "result.json").read_text())["channels"] == 6


@pytest.mark.parametrize(
    "command, files",
    [
        (["search", "--exp", "darts_wo_sc"], ("metrics.csv", "genotype.json", "snapshots.json")),
        (["train", "--genotype", "DARTS_V2", "--layers", "3", "--channels", "4"], ("result.json", "metrics.csv")),
    ],
)
def test_a_run_never_writes_over_files_it_did_not_record(tiny_search_data, tmp_path, command, files):
    out = tmp_path / "theirs"
    out.mkdir()
    for name in files:
        (out / name).write_text(f"the user's {name}\n")
    args = [STRETCHNAS, *command, "--scale", "smoke", "--data", tiny_search_data.root, "--out", out, "--quiet"]
    refused = run(args)
    assert refused.returncode == 2 and "holds files that no run here recorded" in last_line(refused)
    assert sorted(files)[0] in last_line(refused)
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE) == sorted(files)
    assert all((out / name).read_text() == f"the user's {name}\n" for name in files)
    # --supersede keeps them whole under superseded/<time>/ and runs
    moved = run(args + ["--supersede"])
    assert moved.returncode == 0, moved.stderr
    (kept,) = (out / "superseded").iterdir()
    assert all((kept / name).read_text() == f"the user's {name}\n" for name in files)


def test_a_run_json_that_is_not_a_run_record_is_refused_as_someone_elses(tiny_search_data, tmp_path):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"name": "a lab notebook", "status": "complete"}))
    args = [STRETCHNAS, "train", "--genotype", "DARTS_V2", "--layers", "3", "--channels", "4"]
    refused = run(args + ["--scale", "smoke", "--data", tiny_search_data.root, "--out", out, "--quiet"])
    assert refused.returncode == 2 and "not a stretchnas run record" in last_line(refused)
    assert json.loads((out / "run.json").read_text())["name"] == "a lab notebook"


# --------------------------------------------------------------------------- 3. divergence


def test_a_loss_past_max_loss_stops_the_search_naming_epoch_and_step(tiny_search_data, tmp_path):
    search = tiny_search(max_loss=0.5)  # three classes start near ln 3 = 1.1
    with pytest.raises(RunError, match=r"diverged: loss above max_loss 0.5 at epoch 1, step 1 .*no checkpoint"):
        SearchRun("tiny", search, tiny_search_data, tmp_path / "run", seed=0).run(show_progress=False)
    assert not (tmp_path / "run" / "genotype.json").exists()


def test_non_finite_buffers_are_never_checkpointed(tiny_search_data, tmp_path):
    run_ = SearchRun("tiny", tiny_search(), tiny_search_data, tmp_path / "run", seed=0)
    step = run_.train_step

    def poisoned_step():
        stats = step()
        if run_.progress.step == 2:  # the third step poisons a batch-norm statistic
            bn = next(m for m in run_.net.modules() if isinstance(m, torch.nn.BatchNorm2d))
            bn.running_var.fill_(math.inf)
        return stats

    run_.train_step = poisoned_step
    with pytest.raises(RunError, match=r"non-finite values at the end of epoch 1 in model\..*running_var.*kept in"):
        run_.run(show_progress=False)
    state = read_checkpoint(run_.checkpoint_path)
    assert state["progress"]["step"] == 2  # the good checkpoint before the poisoning
    assert not (tmp_path / "run" / "arch_epoch_001.pt").exists()  # no output of the diverged epoch


def test_the_nan_test_loss_message_names_the_metric_and_epoch(tiny_search_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("stretchnas.evaluation.training.evaluate", lambda *args, **kwargs: (math.nan, 0.1, 0.3))
    code = cli.main(
        [
            "train",
            "--scale",
            "smoke",
            "--params",
            str(REPO / "params.yaml"),
            "--data",
            str(tiny_search_data.root),
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--layers",
            "3",
            "--genotype",
            "DARTS_V2",
            "--channels",
            "4",
        ]
    )
    assert code == 2
    assert "diverged: non-finite test_loss at the end of epoch 1" in capsys.readouterr().err
    assert not (tmp_path / "run" / "result.json").exists()


# --------------------------------------------------------------------------- 4. concurrency


def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_finishes(tiny_search_data, tmp_path):
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump({"search": tiny_search(epochs=10, max_steps_per_epoch=6).to_tree()}))
    cmd = [
        STRETCHNAS,
        "search",
        "--params",
        REPO / "params.yaml",
        "--scale",
        "smoke",
        "--config",
        config,
        "--out",
        tmp_path / "run",
        "--data",
        tiny_search_data.root,
        "--quiet",
    ]
    first = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "run" / LOCK_FILE).exists():
        assert first.poll() is None and time.time() < deadline
        time.sleep(0.01)
    second = run(cmd)
    assert second.returncode == 2
    assert f"another run is using this folder (process {first.pid} on {socket.gethostname()})" in last_line(second)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert (tmp_path / "run" / "genotype.json").exists() and not (tmp_path / "run" / LOCK_FILE).exists()


def test_a_stale_lock_of_a_killed_run_is_taken_over(tiny_search_data, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "start": "1"}))
    SearchRun("tiny", tiny_search(), tiny_search_data, out, seed=0).run(show_progress=False)
    assert (out / "genotype.json").exists() and not (out / LOCK_FILE).exists()


def test_a_lock_held_from_another_host_is_reported_not_broken(tiny_search_data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "node-17", "start": "1"}))
    with pytest.raises(RunError, match=r"process 1 on node-17.*delete .*\.stretchnas\.lock"):
        SearchRun("tiny", tiny_search(), tiny_search_data, out, seed=0).run(show_progress=False)
    assert (out / LOCK_FILE).exists()


# --------------------------------------------------------------------------- 5. the machine


def test_a_full_disk_while_checkpointing_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"identity": {"a": 1}, "weights": torch.ones(3)})

    def full(tmp, data):
        Path(tmp).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("stretchnas.runs.atomic._write_all", full)
    with pytest.raises(OutputError, match=r"checkpoint\.pt: cannot write \(no space left on the device\)"):
        save_checkpoint(path, {"identity": {"a": 1}, "weights": torch.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert torch.equal(load_checkpoint(path, {"a": 1})["weights"], torch.ones(3))


def test_a_full_disk_while_preparing_names_the_output_and_leaves_nothing(imagefolder, tmp_path, monkeypatch):
    def full(file, array, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("stretchnas.data.prepare.np.save", full)
    with pytest.raises(OutputError, match=r"prepared: cannot write \(no space left on the device\)"):
        prepare_tree(imagefolder, tmp_path / "prepared")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]  # no scratch folder, no lock


@pytest.mark.parametrize(
    "code, cause", [(errno.EROFS, "the file system is read-only"), (errno.EACCES, "permission denied")]
)
def test_an_unwritable_output_folder_is_one_line_and_status_2(
    tiny_search_data, tmp_path, monkeypatch, capsys, code, cause
):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("stretchnas.runs.atomic.tempfile.mkstemp", refuse)
    exit_code = cli.main(
        [
            "train",
            "--scale",
            "smoke",
            "--params",
            str(REPO / "params.yaml"),
            "--data",
            str(tiny_search_data.root),
            "--out",
            str(tmp_path / "run"),
            "--quiet",
            "--layers",
            "3",
            "--genotype",
            "DARTS_V2",
            "--channels",
            "4",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_code == 2 and len(err) == 1
    assert f"run.json: cannot write ({cause})" in err[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_really_read_only_folder(tiny_search_data, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = run(
            [
                STRETCHNAS,
                "train",
                "--scale",
                "smoke",
                "--params",
                REPO / "params.yaml",
                "--data",
                tiny_search_data.root,
                "--out",
                out,
                "--quiet",
                "--layers",
                "3",
                "--genotype",
                "DARTS_V2",
                "--channels",
                "4",
            ]
        )
    finally:
        out.chmod(0o755)
    assert result.returncode == 2 and "permission denied" in last_line(result)


def overwritten_inside(data: bytes, start: int = 0) -> bytes:
    """The same number of bytes with 64 bytes of the largest tensor's storage overwritten (torch.save's zip
    archive from `start` on): a file that still loads, as other tensors."""
    import struct
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(data[start:]))
    storages = [info for info in archive.infolist() if "/data/" in info.filename]
    largest = max(storages, key=lambda info: info.file_size)
    header = data[start + largest.header_offset : start + largest.header_offset + 30]
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    at = start + largest.header_offset + 30 + name_length + extra_length
    return data[:at] + bytes(b ^ 0x55 for b in data[at : at + 64]) + data[at + 64 :]


@pytest.mark.parametrize("damage", ["empty", "truncated", "overwritten"])
def test_a_corrupt_checkpoint_names_its_path_and_how_to_start_over(tiny_search_data, tmp_path, damage):
    out = tmp_path / "run"
    SearchRun("tiny", tiny_search(), tiny_search_data, out, seed=0).run(show_progress=False)
    record = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**record, "status": "running"}))  # as a run killed mid-way
    data = (out / "checkpoint.pt").read_bytes()
    payload_start = data.index(b"\n") + 1  # after the checksum line
    overwritten = overwritten_inside(data, payload_start)
    damaged = {"empty": b"", "truncated": data[: len(data) // 2], "overwritten": overwritten}[damage]
    (out / "checkpoint.pt").write_bytes(damaged)
    if damage == "overwritten":  # without the checksum it would still load, as other tensors
        torch.load(io.BytesIO(overwritten[payload_start:]), weights_only=False)
    reason = "checksum mismatch" if damage == "overwritten" else ""
    with pytest.raises(
        RunError, match=rf"checkpoint\.pt: corrupt checkpoint \({reason}.*delete it to start this run over"
    ):
        SearchRun("tiny", tiny_search(), tiny_search_data, out, seed=0).run(show_progress=False)


def test_a_diverged_run_records_where_and_why_in_run_json(tiny_search_data, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RunError, match="diverged"):
        SearchRun("tiny", tiny_search(max_loss=0.5), tiny_search_data, out, seed=0).run(show_progress=False)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed"
    failure = record["failure"]
    assert (failure["epoch"], failure["steps_completed_in_epoch"]) == (1, 0) and "diverged" in failure["reason"]


def test_a_checkpoint_is_called_good_only_after_its_checksum_verifies(tiny_search_data, tmp_path):
    run_ = SearchRun("tiny", tiny_search(), tiny_search_data, tmp_path / "run", seed=0)
    run_.run(show_progress=False)
    assert "the last good checkpoint (checksum verified) is kept in" in run_._kept()
    data = run_.checkpoint_path.read_bytes()
    run_.checkpoint_path.write_bytes(overwritten_inside(data, data.index(b"\n") + 1))
    assert "does not verify (checksum mismatch" in run_._kept()


def test_corrupt_prepared_data_names_the_file(imagefolder, tmp_path):
    out = tmp_path / "prepared"
    prepare_tree(imagefolder, out)
    images = out / "train_images.npy"
    images.write_bytes(images.read_bytes()[:200])
    with pytest.raises(PreparedDataError, match=r"train_images\.npy: corrupt or truncated array"):
        PreparedData.open(out)
    prepare_tree(imagefolder, out)
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(PreparedDataError, match=r"manifest\.json: not a valid manifest"):
        PreparedData.open(out)
    (out / "manifest.json").write_text("[]")
    with pytest.raises(PreparedDataError, match=r"manifest\.json: not a prepared-data file of this tool"):
        PreparedData.open(out)


def test_prepared_data_edited_after_preparation_is_refused_at_the_same_size(imagefolder, tmp_path):
    out = tmp_path / "prepared"
    prepare_tree(imagefolder, out)
    assert PreparedData.open(out).arrays_verified
    images = out / "train_images.npy"
    pristine = images.read_bytes()
    header = len(pristine) - np.load(images).nbytes
    images.write_bytes(pristine[:header] + bytes(len(pristine) - header))  # zeroed, same size, still an array
    assert np.load(images).shape == np.load(io.BytesIO(pristine)).shape
    with pytest.raises(PreparedDataError, match=r"prepared: the arrays changed after they were prepared"):
        PreparedData.open(out)
    images.write_bytes(pristine)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "mean": [0.5, 0.5, 0.5]}))
    with pytest.raises(PreparedDataError, match=r"manifest\.json: mean \[0\.5, 0\.5, 0\.5\] .* are not the training"):
        PreparedData.open(out)
    # a folder prepared before the statistics were bound to the arrays: they are recomputed and compared
    older = {key: value for key, value in manifest.items() if key != "stats_sha256"}
    (out / "manifest.json").write_text(json.dumps(older))
    assert PreparedData.open(out).arrays_verified
    (out / "manifest.json").write_text(json.dumps({**older, "std": [0.5, 0.5, 0.5]}))
    with pytest.raises(PreparedDataError, match=r"manifest\.json: mean .* / std \[0\.5, 0\.5, 0\.5\] are not the"):
        PreparedData.open(out)


def test_an_image_folder_source_with_a_stray_file_or_no_folder_is_named_at_preparation(imagefolder, tmp_path):
    from stretchnas.data.files import scan_imagefolder
    from stretchnas.data.sources import DataSourceError

    with pytest.raises(DataSourceError, match=r"nowhere: no such folder; name the ImageFolder tree"):
        scan_imagefolder(tmp_path / "nowhere")
    (imagefolder / "train" / "bee" / "notes.png").write_text("not an image")
    with pytest.raises(DataSourceError, match=r"bee/notes\.png: not a readable image .*remove it from the source"):
        prepare_data(str(imagefolder), tmp_path / "out", "imagefolder", TWO_WAY, 0, None, None, storage="files")
    assert not (tmp_path / "out").exists()


def test_an_output_under_a_file_is_refused_naming_it_before_any_data_is_read(imagefolder, tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.setattr(
        "stretchnas.data.prepare.read_source", lambda *a, **k: pytest.fail("read the source before checking --out")
    )
    with pytest.raises(OutputError, match=r"notes\.txt/prepared: .*notes\.txt is a file, so no folder can be made"):
        prepare_tree(imagefolder, tmp_path / "notes.txt" / "prepared")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_lookup_says_what_is_wrong_with_an_empty_arch_and_never_overwrites_another_file(tmp_path, nb201_tables):
    env = {**os.environ, "STRETCHNAS_NB201": nb201_tables}
    run = lambda cmd: subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)  # noqa: E731
    empty = run([STRETCHNAS, "lookup", "--arch", ""])
    assert empty.returncode == 2 and "expected 3 node groups" in last_line(empty)
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "numbers"}')
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    refused = run([STRETCHNAS, "lookup", "--arch", arch, "--out", mine])
    assert refused.returncode == 2 and "is not a lookup result; refusing to overwrite it" in last_line(refused)
    assert mine.read_text() == '{"my": "numbers"}'
    fresh = tmp_path / "result.json"
    assert run([STRETCHNAS, "lookup", "--arch", arch, "--out", fresh]).returncode == 0
    again = run([STRETCHNAS, "lookup", "--arch", arch, "--out", fresh])  # its own earlier result: replaced
    assert again.returncode == 0 and json.loads(again.stdout) == json.loads(fresh.read_text())


# --------------------------------------------------------------------------- 7. data that cannot serve


def test_an_empty_split_part_is_refused_at_configuration_time(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["scales"]["smoke"]["data"]["train_per_class"] = 2
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"data\.split_schemes\.three_way\.val_alpha: .* of 2 images per class is no"):
        load_settings(path, "smoke", environ={})


def test_data_prepared_for_another_scale_says_so(tmp_path):
    tree = tmp_path / "tree"
    for split, count in (("train", 6), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(count):
                write_image(tree / split / cls / f"{i}.png", size=(8, 8), seed=i)
    smoke = smoke_settings().merged(
        {"data": {"dataset": "imagefolder", "train_per_class": None, "test_per_class": None}}
    )
    prepare_from_settings(smoke, tmp_path / "prepared", source=str(tree))
    open_prepared(tmp_path / "prepared", smoke)  # serves its own scale
    mini = dataclasses.replace(smoke, scale="mini")
    with pytest.raises(PreparedDataError, match=r"prepared: prepared for scale 'smoke', not 'mini'"):
        open_prepared(tmp_path / "prepared", mini)
    other = smoke.merged({"data": {"seed": 99}})
    with pytest.raises(PreparedDataError, match=r"prepared for other data settings: seed"):
        open_prepared(tmp_path / "prepared", other)


# --------------------------------------------------------------------------- 8. the CLI


def test_an_unexpected_exception_is_one_line_with_the_traceback_behind_debug(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("stretchnas.evaluation.measure.measure_named", broken)
    assert cli.main(["measure", "--genotype", "DARTS_V2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "stretchnas measure: unexpected error: ZeroDivisionError: a bug (run with --debug for the traceback)"
    ]
    assert cli.main(["--debug", "measure", "--genotype", "DARTS_V2"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "argument --seed: -1 is not a non-negative integer"),
        (["--seed", "two"], "argument --seed: 'two' is not a non-negative integer"),
        (["--layers", "2"], "argument --layers: 2 is not a layer count of at least 3"),
        (["--target-params", "0"], "argument --target-params: 0 is not a positive number"),
    ],
)
def test_numeric_arguments_are_validated_with_a_message(tmp_path, args, message):
    base = {"--seed": "0", "--layers": "8", "--target-params": "1"}
    base.update(dict(zip(args[::2], args[1::2])))
    result = run(
        [
            STRETCHNAS,
            "train",
            "--genotype",
            "DARTS_V2",
            "--out",
            tmp_path / "x",
            *[item for pair in base.items() for item in pair],
        ]
    )
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "x").exists()


def test_odd_channels_are_refused(tiny_search_data, tmp_path):
    result = run(
        [
            STRETCHNAS,
            "train",
            "--params",
            REPO / "params.yaml",
            "--scale",
            "smoke",
            "--data",
            tiny_search_data.root,
            "--genotype",
            "DARTS_V2",
            "--layers",
            "3",
            "--channels",
            "5",
            "--out",
            tmp_path / "x",
        ]
    )
    assert result.returncode == 2 and "--channels 5: must be an even number" in last_line(result)


def test_prepared_arrays_are_readable_by_numpy_after_a_replace(imagefolder, tmp_path):
    out = tmp_path / "prepared"
    prepare_tree(imagefolder, out)
    prepare_tree(imagefolder, out)
    assert np.load(out / "train_labels.npy").shape == (18,)
    assert hidden_leftovers(tmp_path) == []


def test_the_fused_finiteness_check_agrees_with_checking_each_tensor():
    from stretchnas.runs.checkpoint import all_finite, non_finite_tensors

    generator = torch.Generator().manual_seed(0)
    for trial in range(40):
        tree = {
            "model": {f"w{i}": torch.randn(3, i + 1, generator=generator) for i in range(5)},
            "optimizer": {"state": [{"momentum": torch.randn(4, generator=generator, dtype=torch.float64)}]},
            "steps": torch.tensor([trial]),  # integer: never non-finite
        }
        flat = [*tree["model"].values(), tree["optimizer"]["state"][0]["momentum"]]
        if trial % 3:
            target = flat[trial % len(flat)]
            target.view(-1)[trial % target.numel()] = (math.nan, math.inf, -math.inf)[trial % 3]
        brute = [name for name, t in (("model." + k, v) for k, v in tree["model"].items()) if not t.isfinite().all()]
        if not tree["optimizer"]["state"][0]["momentum"].isfinite().all():
            brute.append("optimizer.state.0.momentum")
        assert all_finite(tree) == (not brute)
        assert non_finite_tensors(tree) == brute


def test_a_packed_checkpoint_reads_back_every_tensor_exactly_and_an_unpacked_one_still_reads(tmp_path):
    from stretchnas.runs.checkpoint import HEADER, PACKED_FORMAT, read_checkpoint, save_checkpoint

    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(4, 3, 3, 3, generator=generator).to(memory_format=torch.channels_last)
    state = {
        "identity": {"seed": 2},
        "model": {"conv.weight": weight, "bn.num_batches_tracked": torch.tensor(7), "empty": torch.zeros(0, 5)},
        "optimizer": {"state": {0: {"momentum_buffer": torch.randn(5, 4, generator=generator).t()}}},
        "stream": {"order": torch.randperm(10, generator=generator), "mask": torch.tensor([True, False])},
        "rng": {"torch": torch.get_rng_state(), "python": (3, (1, 2), None), "half": torch.ones(2).half()},
        "lists": [torch.arange(3.0, dtype=torch.float64), [torch.tensor(1.5)]],
        "parameter": torch.nn.Parameter(torch.ones(2)),  # kept as it is
    }
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, state)
    back = read_checkpoint(path)

    def same(a, b):
        if isinstance(a, torch.Tensor):
            return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b

    assert same(state, back)
    payload = path.read_bytes().partition(b"\n")[2]
    assert torch.load(io.BytesIO(payload), weights_only=False)["format"] == PACKED_FORMAT
    # written before checkpoints were packed: read as it was saved
    plain = io.BytesIO()
    torch.save(state, plain)
    data = plain.getvalue()
    path.write_bytes(HEADER + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
    assert same(state, read_checkpoint(path))
