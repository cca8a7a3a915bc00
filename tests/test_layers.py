import pytest
import torch
from torch import nn

from textcnn.layers import (
    ACTIVATIONS,
    INITS,
    ConvNormAct,
    MaskedBatchNorm1d,
    GlobalPool1d,
    Highway,
    create_act,
    get_act_layer,
    get_norm_layer,
    init_weights,
)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_resolves_and_runs(name):
    act = create_act(name)
    x = torch.linspace(-3, 3, 13)
    y = act(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_activation_values_match_their_definitions():
    x = torch.tensor([-2.0, 0.0, 2.0])
    assert torch.equal(create_act("relu")(x), torch.tensor([0.0, 0.0, 2.0]))
    assert torch.allclose(create_act("leaky_relu", negative_slope=0.1)(x), torch.tensor([-0.2, 0.0, 2.0]))
    assert torch.allclose(create_act("elu")(x)[0], torch.expm1(torch.tensor(-2.0)))
    assert torch.allclose(create_act("sigmoid")(x), torch.sigmoid(x))
    assert torch.equal(create_act("identity")(x), x)
    assert any(p.requires_grad for p in create_act("prelu").parameters())  # PReLU learns its slope


def test_registries_accept_classes_none_and_reject_unknown_names():
    assert get_act_layer(nn.GELU) is nn.GELU
    assert get_act_layer(None) is None
    assert get_act_layer("Leaky-ReLU") is nn.LeakyReLU
    assert get_norm_layer("none") is None and get_norm_layer("batchnorm") is MaskedBatchNorm1d
    with pytest.raises(ValueError, match="unknown activation 'swishy'.*relu"):
        get_act_layer("swishy")
    with pytest.raises(ValueError, match="unknown normalisation"):
        get_norm_layer("layernorm2")


@pytest.mark.parametrize("norm", [None, "batchnorm"])
def test_conv_norm_act_shapes_and_bias_rule(norm):
    block = ConvNormAct(16, 8, kernel_size=3, norm_layer=norm, act_layer="relu")
    out = block(torch.randn(4, 16, 10))
    assert out.shape == (4, 8, 8)  # valid convolution: L - k + 1
    assert (out >= 0).all()
    assert (block.conv.bias is None) == (norm is not None)  # bias only without a norm
    same = ConvNormAct(16, 8, kernel_size=5, padding=None)
    assert same(torch.randn(2, 16, 10)).shape == (2, 8, 10)
    strided = ConvNormAct(16, 8, kernel_size=3, stride=2)
    assert strided(torch.randn(2, 16, 11)).shape == (2, 8, 5)


def test_batchnorm_normalises_each_channel_over_batch_and_length():
    block = ConvNormAct(4, 6, kernel_size=2, norm_layer="batchnorm", act_layer="identity")
    block.train()
    out = block(torch.randn(32, 4, 20) * 5 + 3)
    mean = out.mean(dim=(0, 2))
    std = out.std(dim=(0, 2), unbiased=False)
    assert torch.allclose(mean, torch.zeros(6), atol=1e-5)
    assert torch.allclose(std, torch.ones(6), atol=1e-3)


@pytest.mark.parametrize("scheme", [s for s in INITS if s != "default"])
def test_init_schemes_break_symmetry_and_zero_biases(scheme):
    block = ConvNormAct(50, 100, kernel_size=3)
    init_weights(block, scheme)
    w = block.conv.weight
    assert w.std() > 0 and not torch.allclose(w[0], w[1])  # never all equal
    assert torch.count_nonzero(block.conv.bias) == 0
    if scheme == "uniform":
        bound = 1 / (50 * 3) ** 0.5
        assert w.abs().max() <= bound
    if scheme in ("kaiming", "he"):
        assert abs(w.std().item() - (2 / 150) ** 0.5) < 0.01
    with pytest.raises(ValueError, match="unknown init scheme"):
        init_weights(block, "zeros-everywhere")


@pytest.mark.parametrize("scheme", ["kaiming", "he"])
def test_he_init_gives_a_layer_without_activation_gain_one_and_relu_like_ones_relus(scheme):
    torch.manual_seed(0)
    head = nn.Linear(600, 400)
    init_weights(head, scheme, nonlinearity="linear")
    assert abs(head.weight.std().item() - (1 / 600) ** 0.5) < 0.002  # not ReLU's sqrt(2) wider
    block = ConvNormAct(50, 100, kernel_size=3, act_layer="elu")
    init_weights(block, scheme, nonlinearity="elu")
    assert abs(block.conv.weight.std().item() - (2 / 150) ** 0.5) < 0.01  # ELU: ReLU's gain


@pytest.mark.parametrize("spelled, name", [("ReLU", "relu"), ("Tanh", "tanh"), ("Leaky-ReLU", "leaky_relu")])
def test_init_gain_follows_the_activation_however_the_registry_lets_it_be_spelled(spelled, name):
    for scheme in ("xavier", "kaiming"):
        weights = []
        for nonlinearity in (spelled, name):
            torch.manual_seed(0)
            block = ConvNormAct(50, 100, kernel_size=3, act_layer=spelled)
            init_weights(block, scheme, nonlinearity=nonlinearity)
            weights.append(block.conv.weight)
        assert torch.equal(*weights), (scheme, spelled)


def test_pooling_modes_and_mask():
    x = torch.tensor([[[1.0, 5.0, 2.0, 9.0]]])  # (B=1, C=1, L=4)
    mask = torch.tensor([[True, True, True, False]])
    assert GlobalPool1d("max")(x).item() == 9.0
    assert GlobalPool1d("max")(x, mask).item() == 5.0  # the masked position cannot win
    assert GlobalPool1d("avg")(x, mask).item() == pytest.approx(8 / 3)
    assert GlobalPool1d("kmax", k=2)(x).tolist() == [[5.0, 9.0]]  # k largest, in order
    assert GlobalPool1d("kmax", k=2)(x, mask).tolist() == [[5.0, 2.0]]
    assert GlobalPool1d("kmax", k=3)(x[:, :, :2]).tolist() == [[1.0, 5.0, 0.0]]  # short input padded
    with pytest.raises(ValueError, match="unknown pooling"):
        GlobalPool1d("median")


def test_highway_gates_between_its_transform_and_carrying_the_input():
    torch.manual_seed(0)
    x = torch.randn(4, 10)
    layer = Highway(10, num_layers=1, act_layer="relu")
    assert layer.gates[0].bias.eq(-2.0).all()  # starts mostly carrying its input
    t = torch.sigmoid(layer.gates[0](x))
    expected = t * torch.relu(layer.transforms[0](x)) + (1 - t) * x
    torch.testing.assert_close(layer(x), expected)
    with torch.no_grad():
        layer.gates[0].bias.fill_(-50.0)  # gate shut: the identity, a plain skip connection
    torch.testing.assert_close(layer(x), x)
    with torch.no_grad():
        layer.gates[0].bias.fill_(50.0)  # gate open: a plain layer
    torch.testing.assert_close(layer(x), torch.relu(layer.transforms[0](x)))
    assert Highway(10, num_layers=0)(x) is x
    with pytest.raises(ValueError, match="highway layers must be >= 0"):
        Highway(10, num_layers=-1)


def test_stacked_highway_layers_pass_the_gradient_down():
    torch.manual_seed(0)
    deep = Highway(16, num_layers=20, act_layer="sigmoid")
    x = torch.randn(8, 16, requires_grad=True)
    deep(x).sum().backward()
    assert x.grad.abs().mean() > 1e-2  # the gates' carry keeps it
    torch.manual_seed(0)
    plain = nn.Sequential(*[m for _ in range(20) for m in (nn.Linear(16, 16), nn.Sigmoid())])
    y = x.detach().clone().requires_grad_(True)
    plain(y).sum().backward()
    assert y.grad.abs().mean() < 1e-12  # each sigmoid at most halves it twice: vanished
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in deep.parameters())
