"""Genotypes (JSON, DARTS format), evaluation networks and published parameter counts."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stretchnas.evaluation.measure import measure
from stretchnas.method.evalnet import EvalNetwork, drop_path
from stretchnas.method.genotype import Cell, Genotype, GenotypeError
from stretchnas.method.published_genotypes import DARTS_FORMAT, get_genotype

# docs/reference-settings.md §6 (counted with DARTS's count_parameters_in_MB) and docs/method.md §8.
PUBLISHED_PARAMS = {
    "DARTS_V1": 3.169414,
    "DARTS_V2": 3.349342,
    "PC_DARTS_cifar": 3.634678,
    "MILENAS_2_34": 3.874222,
    "MILENAS_2_50": 2.857942,
}
# The paper's Table 1 "FLOPs" (M) and the conv+linear multiply-adds of docs/method.md §8.
PAPER_FLOPS = {"DARTS_V1": 519, "DARTS_V2": 547, "PC_DARTS_cifar": 576, "MILENAS_2_34": 629}
CONV_LINEAR_MACS = {"DARTS_V1": 501.0, "DARTS_V2": 528.4, "PC_DARTS_cifar": 556.7, "MILENAS_2_34": 607.5}

# A stretchable-style cell: node 2 has one input, node 4 three, node 3 is not concatenated.
VARIABLE = Genotype(
    Cell(
        (
            ("sep_conv_3x3", 0, 2),
            ("dil_conv_5x5", 2, 3),
            ("skip_connect", 1, 4),
            ("max_pool_3x3", 3, 4),
            ("sep_conv_5x5", 2, 4),
            ("avg_pool_3x3", 4, 5),
        ),
        (2, 4, 5),
    ),
    Cell((("skip_connect", 0, 2), ("sep_conv_3x3", 1, 3), ("dil_conv_3x3", 2, 3)), (3,)),
)


@pytest.mark.parametrize("name", sorted(DARTS_FORMAT))
def test_darts_genotypes_round_trip_through_json_unchanged(name, tmp_path):
    darts = DARTS_FORMAT[name]
    genotype = Genotype.from_darts(darts)
    genotype.save(tmp_path / "g.json")
    loaded = Genotype.load(tmp_path / "g.json")
    assert loaded == genotype
    assert loaded.to_darts() == darts


def test_variable_arity_genotype_round_trips_and_refuses_the_darts_format(tmp_path):
    VARIABLE.save(tmp_path / "v.json")
    assert Genotype.load(tmp_path / "v.json") == VARIABLE
    with pytest.raises(GenotypeError, match="DARTS format needs exactly two inputs per node"):
        VARIABLE.to_darts()


@pytest.mark.parametrize(
    "normal, message",
    [
        ({"edges": [["sep_conv_3x3", 0, 2]], "concat": [3]}, "concat names node 3, which has no input edge"),
        ({"edges": [["sep_conv_3x3", 3, 2]], "concat": [2]}, r"edge 0 \['sep_conv_3x3', 3, 2\]: does not go forward"),
        ({"edges": [["none", 0, 2]], "concat": [2]}, r"edge 0 \['none', 0, 2\]: .*cannot contain the op 'none'"),
        ({"edges": [["skip_connect", 0, 2], ["skip_connect", 3, 4]], "concat": [2, 4]}, "edge 1 .* starts at node 3"),
        ({"edges": [["skip_connect", 0]], "concat": [2]}, "expected"),
        ({"edges": [["sep_conv_9x9", 0, 2]], "concat": [2]}, r"edge 0 .*unknown op 'sep_conv_9x9'; the darts space"),
        ({"edges": [["skip_connect", -1, 2]], "concat": [2]}, r"edge 0 .*non-negative integers"),
        ({"edges": [["skip_connect", 0, 2.7]], "concat": [2]}, r"edge 0 .*non-negative integers"),
        ({"edges": [["skip_connect", 1.0, 2]], "concat": [2]}, r"edge 0 .*non-negative integers"),
        ({"edges": [["skip_connect", True, 2]], "concat": [2]}, r"edge 0 .*non-negative integers"),
        (
            {"edges": [["skip_connect", 0, 2], ["sep_conv_3x3", 1, 3]], "concat": [2]},
            r"edges \[1\] go into node 3, which is neither concatenated nor feeds a node that is",
        ),
    ],
)
def test_bad_genotype_files_are_refused_with_the_file_name_and_the_edge(tmp_path, normal, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"normal": normal, "reduce": VARIABLE.reduce.to_dict()}))
    with pytest.raises(GenotypeError, match=message) as info:
        Genotype.load(path)
    assert str(info.value).startswith(f"{path}: normal cell"), str(info.value)


def test_a_node_feeding_a_concatenated_node_need_not_be_concatenated():
    cell = {"edges": [["skip_connect", 0, 2], ["sep_conv_3x3", 2, 3]], "concat": [3]}
    genotype = Genotype.from_dict({"normal": cell, "reduce": cell})
    assert genotype.normal.concat == (3,)


def test_depth_and_width():
    assert (VARIABLE.normal.depth(), VARIABLE.normal.width()) == (4, 2)  # 0->2->3->4->5
    assert (VARIABLE.reduce.depth(), VARIABLE.reduce.width()) == (2, 2)
    v2 = get_genotype("DARTS_V2")
    assert (v2.normal.depth(), v2.normal.width()) == (2, 7)


@pytest.mark.parametrize("imagenet", [False, True])
def test_evaluation_network_from_a_variable_arity_genotype(imagenet):
    torch.manual_seed(0)
    net = EvalNetwork(VARIABLE, C=8, num_classes=5, layers=6, auxiliary=True, imagenet=imagenet)
    size = 224 if imagenet else 32
    net.train()
    net.drop_path_prob = 0.2
    logits, aux = net(torch.randn(2, 3, size, size))
    assert logits.shape == aux.shape == (2, 5)
    (logits.sum() + 0.4 * aux.sum()).backward()  # out-of-place drop path keeps autograd intact
    net.eval()
    assert net(torch.randn(2, 3, size, size)).shape == (2, 5)
    # node 3 is not concatenated: the normal cell outputs 3 nodes, the reduce cell 1
    assert net.cells[0].multiplier == 3 and net.cells[2].multiplier == 1


def test_drop_path_is_out_of_place_and_unbiased():
    torch.manual_seed(0)
    x = torch.ones(20000, 1, 1, 1, requires_grad=True)
    y = drop_path(x, 0.2)
    assert torch.all(x == 1)
    assert set(y.detach().unique().tolist()) == {0.0, 1.25}
    assert y.mean().item() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_parameter_counts(name):
    result = measure(get_genotype(name), layers=20, C=36)
    assert result["params_m"] == pytest.approx(PUBLISHED_PARAMS[name], rel=1e-3)


@pytest.mark.parametrize("name", sorted(PAPER_FLOPS))
def test_flops_against_the_paper_and_method_notes(name):
    result = measure(get_genotype(name), layers=20, C=36)
    assert result["thop_style_flops_m"] == pytest.approx(PAPER_FLOPS[name], rel=0.01)
    assert result["conv_linear_macs_m"] == pytest.approx(CONV_LINEAR_MACS[name], abs=0.1)


def test_imagenet_darts_network_has_the_published_size():
    # DARTS README: "4.7M model params" for the ImageNet network (14 layers, C=48)
    assert measure(get_genotype("DARTS_V2"), layers=14, C=48, imagenet=True)["params_m"] == pytest.approx(4.7, abs=0.05)


def test_measure_command_prints_one_json_object(tmp_path):
    VARIABLE.save(tmp_path / "v.json")
    stretchnas = Path(sys.executable).parent / "stretchnas"
    for genotype in ("MILENAS_2_50", str(tmp_path / "v.json")):
        result = subprocess.run(
            [stretchnas, "measure", "--genotype", genotype, "--layers", "8", "--channels", "16"],
            capture_output=True,
            text=True,
            check=True,
        )
        out = json.loads(result.stdout)
        assert {"params_m", "conv_linear_macs_m", "thop_style_flops_m", "depth", "width"} <= set(out)
        assert set(out["depth"]) == set(out["width"]) == {"normal", "reduce"}


def test_auxiliary_pool_is_dartss_on_8x8_and_a_2x2_average_on_smaller_maps():
    import torch.nn.functional as F

    from stretchnas.method.evalnet import AuxiliaryPool

    pool = AuxiliaryPool(5, stride=3, padding=0, count_include_pad=False)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(pool(x), F.avg_pool2d(x, 5, stride=3))
    small = torch.randn(2, 3, 4, 4)
    blocks = small.reshape(2, 3, 2, 2, 2, 2).mean(dim=(3, 5))  # each 2x2 quarter's mean
    assert torch.allclose(pool(small), blocks, atol=1e-6)


def test_eval_network_trains_on_16x16_images_with_its_auxiliary_head():
    from stretchnas.method.published_genotypes import get_genotype

    model = EvalNetwork(get_genotype("DARTS_V2"), 8, 10, 8, auxiliary=True).train()
    logits, aux = model(torch.randn(2, 3, 16, 16))
    assert logits.shape == aux.shape == (2, 10)


def test_an_unknown_genotype_name_suggests_the_close_published_ones():
    with pytest.raises(GenotypeError, match=r"'darts_v2' is neither .*; did you mean DARTS_V2"):
        get_genotype("darts_v2")
    with pytest.raises(GenotypeError, match=r"nor a JSON file$"):
        get_genotype("nothing_like_it")
