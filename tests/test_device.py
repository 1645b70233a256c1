"""The device plumbing: selection, run.json, device-independent identities and checkpoints.

Without CUDA these tests prove the plumbing on the CPU; the CUDA checks skip with their reason.
"""

import json

import pytest
import torch
from conftest import REPO

from stretchnas.evaluation.training import TrainRun, TrainSpec
from stretchnas.method.published_genotypes import get_genotype
from stretchnas.runs.checkpoint import load_checkpoint
from stretchnas.runs.device import DeviceError, describe_device, resolve_device
from stretchnas.search.runner import SearchRun
from stretchnas.settings.params import load_settings
from stretchnas.settings.types import SearchSettings

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def tiny_search(device: str) -> SearchSettings:
    search = load_settings(REPO / "params.yaml", "smoke", environ={}).experiment("milenas_sc_L8").search
    return search.replace(
        layers=3,
        channels=4,
        batch_size=2,
        epochs=1,
        max_steps_per_epoch=2,
        snapshot_epochs=(1,),
        intermediate_nodes=4,
        threads=1,
        checkpoint_every_steps=1,
        device=device,
    )


def test_device_selection():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="use auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    with pytest.raises(DeviceError, match=r"'cuda:99': this machine has|'cuda:99': CUDA is not available"):
        resolve_device("cuda:99")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without CUDA gives")
def test_asking_for_cuda_without_it_is_one_clear_error():
    with pytest.raises(DeviceError, match=r"device 'cuda': CUDA is not available here .*use --device cpu or auto"):
        resolve_device("cuda")


def test_the_cli_device_reaches_every_search_and_training():
    settings = load_settings(REPO / "params.yaml", "smoke", environ={}).on_device("cpu")
    assert {settings.search.device, settings.train.device, settings.train_imagenet.device} == {"cpu"}
    assert {e.search.device for e in settings.experiments.values()} == {"cpu"}
    assert load_settings(REPO / "params.yaml", "smoke", environ={}).search.device == "auto"  # schema default


def on_device(run, device: torch.device) -> None:
    """Every parameter and buffer of the run's model, and the batches of a step, are on `device`."""
    model = run.net if hasattr(run, "net") else run.model
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        assert tensor.device.type == device.type, name
    seen = []
    handle = model.register_forward_pre_hook(lambda module, args: seen.append(args[0].device))
    run.train_step()
    handle.remove()
    assert seen and all(d.type == device.type for d in seen)


def run_on(run, device_name):
    run.out.mkdir(parents=True)
    run.prepare()
    assert run.device == resolve_device(device_name)
    return run


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_a_search_step_runs_wholly_on_the_selected_device(tiny_search_data, tmp_path, device):
    run = run_on(SearchRun("tiny", tiny_search(device), tiny_search_data, tmp_path / "s", seed=0), device)
    run.start_epoch(0, fresh=True)
    on_device(run, run.device)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_a_training_step_runs_wholly_on_the_selected_device(tiny_search_data, tmp_path, device):
    recipe = load_settings(REPO / "params.yaml", "smoke", environ={}).train.replace(device=device)
    spec = TrainSpec(get_genotype("DARTS_V2"), "DARTS_V2", 3, 4)
    run = run_on(TrainRun(spec, recipe, tiny_search_data, tmp_path / "t", seed=0), device)
    run.start_epoch(0, fresh=True)
    on_device(run, run.device)


def test_run_json_records_the_device_and_a_run_resumes_on_another_device_setting(tiny_search_data, tmp_path):
    out = tmp_path / "run"
    search = tiny_search("cpu")
    SearchRun("tiny", search, tiny_search_data, out, seed=0).run(show_progress=False)
    recorded = json.loads((out / "run.json").read_text())
    assert {k: recorded[k] for k in ("device", "device_name", "cuda", "cudnn")} == describe_device(torch.device("cpu"))
    assert "device" not in recorded["identity"]["search"]  # where a run computes is not what it computes
    # the same run asked for with device auto is the same run: nothing is refused, nothing recomputed
    again = SearchRun("tiny", search.replace(device="auto"), tiny_search_data, out, seed=0)
    assert again.run(show_progress=False) == SearchRun("tiny", search, tiny_search_data, out, seed=0).load_result()


def test_checkpoints_load_onto_the_cpu_whatever_device_wrote_them(tmp_path, monkeypatch):
    seen = {}
    original = torch.load

    def recording_load(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    torch.save({"identity": {"a": 1}, "weights": torch.ones(2)}, tmp_path / "c.pt")
    monkeypatch.setattr(torch, "load", recording_load)
    assert torch.equal(load_checkpoint(tmp_path / "c.pt", {"a": 1})["weights"], torch.ones(2))
    assert seen["map_location"] == "cpu"  # so a GPU run's checkpoint resumes on a CPU-only machine


@CUDA
def test_a_cuda_checkpoint_resumes_on_the_cpu(tiny_search_data, tmp_path):
    out = tmp_path / "run"
    gpu = SearchRun("tiny", tiny_search("cuda").replace(epochs=2), tiny_search_data, out, seed=0)
    genotype = gpu.run(show_progress=False)
    (out / "run.json").unlink()
    (out / "genotype.json").unlink()  # only the last checkpoint, written on the GPU, is left
    cpu = SearchRun("tiny", tiny_search("cpu").replace(epochs=2), tiny_search_data, out, seed=0)
    assert cpu.run(show_progress=False) == genotype  # derived on the CPU from the GPU's parameters
    assert json.loads((out / "run.json").read_text())["device"] == "cpu"
