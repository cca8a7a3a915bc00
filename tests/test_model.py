import pytest
import torch

from textcnn.model import VARIANTS, TextCNN, pad_batch

V, D, C = 40, 12, 3


def make(variant="multichannel", **kw):
    torch.manual_seed(0)
    model = TextCNN(V, C, embed_dim=D, variant=variant, kernel_sizes=(2, 3, 4), num_filters=5, **kw)
    if variant != "rand":
        model.load_pretrained(torch.randn(V, D))
    return model


def batch(b=6, length=9):
    g = torch.Generator().manual_seed(1)
    return torch.randint(2, V, (b, length), generator=g)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_returns_logits_of_the_right_shape(variant):
    out = make(variant)(batch())
    assert out.shape == (6, C) and torch.isfinite(out).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_trainable_parameter_gets_a_gradient_and_frozen_tables_none(variant):
    model = make(variant)
    model(batch()).logsumexp(dim=1).sum().backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = {"rand": set(), "non-static": set(), "static": {"embedding.weight"},
                "multichannel": {"embedding_static.weight"}}[variant]
    assert frozen == expected


def test_activation_and_norm_may_be_given_as_classes():
    """As the layer factories take them: ``nn.GELU`` and ``nn.BatchNorm1d`` are built into every
    conv block (and the highway layer), and every parameter learns."""
    model = make("non-static", act_layer=torch.nn.GELU, norm_layer=torch.nn.BatchNorm1d, init="kaiming", highway=1)
    assert sum(isinstance(m, torch.nn.GELU) for m in model.modules()) == 3 + 1
    assert sum(type(m) is torch.nn.BatchNorm1d for m in model.modules()) == 3
    model(batch()).logsumexp(dim=1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    plain = make("non-static", act_layer=None)
    assert not any(isinstance(m, torch.nn.ReLU) for m in plain.modules())


def test_multichannel_shares_its_filters():
    count = lambda m: sum(p.numel() for p in m.parameters())
    trainable = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)
    multi, non_static = make("multichannel"), make("non-static")
    assert count(multi) == count(non_static) + V * D  # one more (frozen) table, no extra filters
    assert trainable(multi) == trainable(non_static)


def test_multichannel_equals_the_sum_of_both_channels_through_the_same_filters():
    model = make("multichannel").eval()
    with torch.no_grad():
        model.embedding.weight.add_(0.3 * torch.randn(V, D))  # channels differ after fine-tuning
        tokens = batch()
        conv = model.convs[0].conv
        x_tuned = model.embedding(tokens).transpose(1, 2)
        x_static = model.embedding_static(tokens).transpose(1, 2)
        by_paper = conv(x_tuned) + conv(x_static) - conv.bias[None, :, None]  # one bias, as Kim adds results
        ours = conv(model.embed(tokens))
    assert torch.allclose(ours, by_paper, atol=1e-5)


def test_padding_does_not_change_the_output():
    model = make().eval()
    ids = [[5, 6, 7], [8, 9, 10, 11, 12, 13]]
    alone = model(pad_batch(ids[:1], min_len=4))
    padded = model(pad_batch(ids, min_len=4))[:1]
    longer = model(torch.cat([pad_batch(ids[:1], 4), torch.zeros(1, 20, dtype=torch.long)], dim=1))
    assert torch.allclose(alone, padded, atol=1e-6) and torch.allclose(alone, longer, atol=1e-6)


@pytest.mark.parametrize("options", [
    {"pooling": "kmax", "pool_k": 3},  # ReLU zeros tie: which are kept must not follow the padding
    {"pooling": "kmax", "pool_k": 3, "conv_padding": "wide", "norm_layer": "batchnorm", "highway": 1},
    {"norm_layer": "batchnorm"}, {"norm_layer": "batchnorm", "conv_padding": "wide", "pooling": "avg"},
])
def test_padding_changes_nothing_in_training_either(options):
    """Batch norm's training statistics and k-max pooling's choice among equal values see only
    the windows of the texts: a batch padded further gives the same logits and running stats."""
    ids = [[5, 6, 7], [8, 9, 10, 11, 12, 13], [14]]
    model = make("non-static", drop_rate=0.0, **options)
    outs, stats = [], []
    for extra in (0, 10):
        torch.manual_seed(0)
        m = make("non-static", drop_rate=0.0, **options).train()
        tokens = pad_batch(ids, min_len=model.min_len)
        tokens = torch.cat([tokens, torch.zeros(len(ids), extra, dtype=torch.long)], dim=1)
        outs.append(m(tokens))
        stats.append([b.clone() for name, b in m.named_buffers() if name.endswith(("running_mean", "running_var"))])
    assert torch.allclose(outs[0], outs[1], atol=1e-5), (outs[0] - outs[1]).abs().max()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*stats))
    assert ("norm_layer" in options) == bool(stats[0])
    # each text alone gives what it gives in the batch (eval; k-max ties broken by position)
    m.eval()
    together = m(pad_batch(ids, min_len=model.min_len))
    for i, text in enumerate(ids):
        assert torch.allclose(m(pad_batch([text], min_len=model.min_len)), together[i : i + 1], atol=1e-5)


def test_batchnorm_trains_on_a_batch_of_one_short_text():
    model = make("non-static", norm_layer="batchnorm").train()
    assert model(pad_batch([[5]], min_len=model.min_len)).shape == (1, C)  # one window: the running stats


def test_short_inputs_are_padded_to_the_largest_window():
    model = make().eval()
    tokens = pad_batch([[5], []], min_len=model.min_len)
    assert tokens.shape == (2, 4)
    assert torch.isfinite(model(tokens)).all()
    with pytest.raises(ValueError, match="shorter than the model.s min_len"):
        model(torch.tensor([[5, 6]]))
    # input that is no (batch, length) tensor of ids: said so, not torch's error from inside a layer
    for wrong, what in ((torch.tensor([5, 6, 7, 8]), r"shape \(4,\)"), ([[5, 6, 7, 8]], "a list"),
                        (torch.zeros(1, 4), "dtype torch.float32")):
        with pytest.raises(TypeError, match=rf"takes a \(batch, length\) tensor of token ids .*{what}"):
            model(wrong)
    # ids from another (bigger) vocabulary: the range is named, not torch's "index out of range in self"
    for variant in ("rand", "multichannel"):
        with pytest.raises(IndexError, match=r"must lie in \[0, \d+\) .* from 0 to 10000: .*another vocabulary"):
            make(variant).eval()(torch.tensor([[0, 3, 10000, 2]]))


@pytest.mark.parametrize("pooling,k", [("max", 1), ("avg", 1), ("kmax", 3)])
def test_pooling_options_set_the_feature_width(pooling, k):
    model = make(pooling=pooling, pool_k=k, norm_layer="batchnorm", act_layer="elu", init="xavier")
    assert model.num_features == 5 * 3 * k
    assert model(batch()).shape == (6, C)


def test_max_norm_rescales_head_rows():
    model = make()
    with torch.no_grad():
        model.head.weight.mul_(100)
    model.apply_max_norm(3.0)
    assert (model.head.weight.norm(dim=1) <= 3.0 + 1e-5).all()


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown variant 'dynamic'"):
        TextCNN(V, C, variant="dynamic")
    with pytest.raises(ValueError, match="pretrained table has shape"):
        make().load_pretrained(torch.zeros(V + 1, D))


def test_wide_padding_pools_over_every_window_that_overlaps_the_text():
    """Kim's code pads each sentence with k - 1 zero vectors at both ends: windows that overhang
    the first or last words count. ``conv_padding="wide"`` gives exactly that, for any batch padding."""
    model = make("non-static", conv_padding="wide").eval()
    ids = [[5, 6, 7], [8]]
    with torch.no_grad():
        got = model.forward_features(pad_batch(ids, min_len=model.min_len))
        for row, text in enumerate(ids):
            x = model.embedding(torch.tensor(text)).T.unsqueeze(0)  # (1, D, n)
            expected = []
            for conv, k in zip(model.convs, model.kernel_sizes):
                padded = torch.nn.functional.pad(x, (k - 1, k - 1))  # k - 1 zero vectors each side
                out = torch.relu(torch.nn.functional.conv1d(padded, conv.conv.weight, conv.conv.bias))
                assert out.shape[2] == len(text) + k - 1
                expected.append(out.amax(dim=2)[0])
            assert torch.allclose(got[row], torch.cat(expected), atol=1e-6)
    assert model.min_len == 1 and model(torch.tensor([[5]])).shape == (1, C)
    longer = model(torch.cat([pad_batch(ids[:1], 1), torch.zeros(1, 7, dtype=torch.long)], dim=1))
    assert torch.allclose(longer, model(pad_batch(ids[:1], 1)), atol=1e-6)
    assert list(model.window_tokens(0, 4, 3)) == [0] and list(model.window_tokens(5, 4, 3)) == [2]
    with pytest.raises(ValueError, match="unknown conv_padding 'same'"):
        TextCNN(V, C, conv_padding="same")


def test_he_init_starts_the_head_with_gain_one_and_the_convolutions_with_relus():
    torch.manual_seed(0)
    model = TextCNN(V, C, embed_dim=50, variant="rand", kernel_sizes=(3,), num_filters=300, init="kaiming")
    assert abs(model.head.weight.std().item() - (1 / 300) ** 0.5) < 0.01  # linear: no sqrt(2)
    assert abs(model.convs[0].conv.weight.std().item() - (2 / 150) ** 0.5) < 0.01


def test_highway_layers_sit_between_pooling_and_dropout_and_all_learn():
    model = make("non-static", highway=2)
    assert len(model.highway.transforms) == 2 and model.num_features == 15
    model(batch()).logsumexp(dim=1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters()
               if p.requires_grad), "every highway parameter learns"
    plain = make("non-static")
    with torch.no_grad():
        for gate in model.highway.gates:
            gate.bias.fill_(-50.0)  # shut gates: the same function as the model without them
        for name, p in plain.named_parameters():
            dict(model.named_parameters())[name].copy_(p)
    model.eval(), plain.eval()
    torch.testing.assert_close(model(batch()), plain(batch()))
    with pytest.raises(ValueError, match="highway must be 0"):
        make(highway=-1)


def test_multichannel_without_vectors_starts_both_channels_from_one_table():
    model = TextCNN(V, C, embed_dim=D, variant="multichannel")
    assert torch.equal(model.embedding.weight, model.embedding_static.weight)
    assert model.embedding_static.weight.abs().max() <= 0.25 and not model.embedding_static.weight.requires_grad
