"""Reusable building blocks: activation, normalisation and initialisation registries,
the Conv1d-Norm-Activation block, pooling over time and highway layers. Depends on torch only.

Factories take a name, a class or ``None``: ``get_*`` returns a class, ``create_*`` an
instance, so a model resolves its strings once and passes classes down.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "INITS",
    "POOLINGS",
    "get_act_layer",
    "create_act",
    "get_norm_layer",
    "init_weights",
    "MaskedBatchNorm1d",
    "ConvNormAct",
    "GlobalPool1d",
    "Highway",
]

LayerSpec = Union[str, type, None]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}

class MaskedBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` on ``(B, C, L)`` whose training statistics count only the positions that
    ``mask`` (B, L) marks: each channel is normalised over batch x length, as batch norm in a
    convolutional net should (one mean and variance per feature map, not per position), but the
    windows that lie in padding never shift them, so neither a text's output nor the running
    statistics depend on how much padding its batch needed. Without a mask, and in eval mode,
    it is ``BatchNorm1d`` (same parameters and state, so checkpoints and ONNX are unchanged).
    A training batch with a single real position per channel uses the running statistics."""

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if mask is None or not self.training or x.dim() != 3:
            return super().forward(x)
        m = mask.unsqueeze(1).to(x.dtype)  # (B, 1, L)
        n = m.sum()
        if n < 2:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            False, 0.0, self.eps)
        mean = (x * m).sum(dim=(0, 2)) / n
        var = (((x - mean[None, :, None]) ** 2) * m).sum(dim=(0, 2)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), momentum)
        out = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        if self.affine:
            out = out * self.weight[None, :, None] + self.bias[None, :, None]
        return out


NORMS: dict[str, Optional[type[nn.Module]]] = {
    "none": None,
    # per channel over batch x length, padding left out (see MaskedBatchNorm1d)
    "batchnorm": MaskedBatchNorm1d,
}

INITS = ("default", "xavier", "kaiming", "he", "uniform", "normal")

POOLINGS = ("max", "avg", "kmax")


def _lookup(registry: dict, name: str, kind: str):
    key = name.lower().replace("-", "_") if kind == "activation" else name.lower()
    if key not in registry:
        raise ValueError(f"unknown {kind} {name!r}; choose one of: {', '.join(registry)}")
    return registry[key]


def get_act_layer(act_layer: LayerSpec) -> Optional[type[nn.Module]]:
    """Resolve an activation given as a name (see ``ACTIVATIONS``), a class or ``None``."""
    if act_layer is None or isinstance(act_layer, type):
        return act_layer
    return _lookup(ACTIVATIONS, act_layer, "activation")


def create_act(act_layer: LayerSpec, **kwargs) -> nn.Module:
    """Instantiate an activation; ``None`` gives ``nn.Identity``."""
    cls = get_act_layer(act_layer)
    return nn.Identity() if cls is None else cls(**kwargs)


def get_norm_layer(norm_layer: LayerSpec) -> Optional[type[nn.Module]]:
    """Resolve a normalisation given as a name (``none``, ``batchnorm``), a class or ``None``."""
    if norm_layer is None or isinstance(norm_layer, type):
        return norm_layer
    return _lookup(NORMS, norm_layer, "normalisation")


def _fan_in(weight: torch.Tensor) -> int:
    return weight.shape[1] * math.prod(weight.shape[2:]) if weight.dim() > 1 else weight.shape[0]


def init_weights(module: nn.Module, scheme: str = "default", nonlinearity: Union[str, type, None] = "relu") -> None:
    """Initialise the weights of every Conv1d / Linear inside ``module`` in place.

    Args:
        module: the module to initialise (recursively).
        scheme: ``default`` (PyTorch's own), ``xavier`` (Glorot uniform), ``kaiming``/``he``
            (He normal, fan-in), ``uniform`` (U[-1/sqrt(fan_in), 1/sqrt(fan_in)]) or ``normal``
            (N(0, 0.01)). Biases start at zero for every scheme except ``default``.
        nonlinearity: the activation that follows, for the gain of xavier / kaiming;
            ``"linear"`` (or ``"identity"``, ``None``) for a layer with none, such as the head.
    """
    scheme = scheme.lower()
    if scheme not in INITS:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of: {', '.join(INITS)}")
    if scheme == "default":
        return
    if isinstance(nonlinearity, str):  # spelled as the activation registry accepts: "ReLU", "Leaky-ReLU"
        nonlinearity = nonlinearity.lower().replace("-", "_")
    gain_name = nonlinearity if nonlinearity in ("relu", "leaky_relu", "tanh", "sigmoid") else "linear"
    # He init: gain 1 with no activation; PReLU, ELU and an activation given as a class, for
    # which torch.nn.init has no gain, take ReLU's (He et al.'s, for rectifiers).
    he_name = "linear" if nonlinearity in ("linear", "identity", None) else (
        "relu" if gain_name == "linear" else gain_name)
    for m in module.modules():
        if not isinstance(m, (nn.Conv1d, nn.Linear)):
            continue
        w = m.weight
        if scheme == "xavier":
            nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain(gain_name))
        elif scheme in ("kaiming", "he"):
            nn.init.kaiming_normal_(w, nonlinearity=he_name)
        elif scheme == "uniform":
            bound = 1.0 / math.sqrt(_fan_in(w))
            nn.init.uniform_(w, -bound, bound)
        else:  # normal
            nn.init.normal_(w, 0.0, 0.01)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class ConvNormAct(nn.Sequential):
    """Conv1d, optional normalisation, activation: ``(B, C_in, L) -> (B, C_out, L')``.

    Args:
        in_channels: input channels (the embedding dimension for text).
        out_channels: number of filters (feature maps).
        kernel_size: window width in tokens.
        stride: step between windows.
        padding: tokens of zero padding on each side; ``None`` means "same"-style
            ``(kernel_size - 1) // 2`` when stride is 1, else 0. TextCNN uses 0 ("valid").
        norm_layer: ``None``/``"none"``, ``"batchnorm"`` or a class taking ``num_features``.
        act_layer: activation name or class (see ``ACTIVATIONS``); ``None`` for identity.
        bias: ``None`` means a bias only when there is no norm (the norm's shift replaces it).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: Optional[int] = 0,
        norm_layer: LayerSpec = None,
        act_layer: LayerSpec = "relu",
        bias: Optional[bool] = None,
    ):
        norm_cls = get_norm_layer(norm_layer)
        if padding is None:
            padding = (kernel_size - 1) // 2 if stride == 1 else 0
        if bias is None:
            bias = norm_cls is None
        layers: list[nn.Module] = [
            nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        ]
        if norm_cls is not None:
            layers.append(norm_cls(out_channels))
        layers.append(create_act(act_layer))
        super().__init__(*layers)
        self.out_channels = out_channels
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``mask`` (B, L'): the output positions that belong to the text, for a norm that takes
        one (``MaskedBatchNorm1d``); the others ignore it."""
        for layer in self:
            x = layer(x, mask) if isinstance(layer, MaskedBatchNorm1d) else layer(x)
        return x

    @property
    def conv(self) -> nn.Conv1d:
        return self[0]


class GlobalPool1d(nn.Module):
    """Pool over time: ``(B, C, L) -> (B, C * k)``.

    ``max`` is Kim's 1-max pooling (k = 1); ``kmax`` keeps the k largest values of each
    channel in their original order (Kalchbrenner et al., 2014); ``avg`` averages over
    positions. ``mask`` (B, L), when given, marks real positions so padding never wins
    a max nor dilutes an average.
    """

    def __init__(self, mode: str = "max", k: int = 1):
        super().__init__()
        mode = mode.lower()
        if mode not in POOLINGS:
            raise ValueError(f"unknown pooling {mode!r}; choose one of: {', '.join(POOLINGS)}")
        if k < 1:
            raise ValueError(f"pooling k must be >= 1, got {k}")
        self.mode = mode
        self.k = k if mode == "kmax" else 1

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.mode == "avg":
            if mask is None:
                return x.mean(dim=2)
            m = mask.to(x.dtype).unsqueeze(1)
            return (x * m).sum(dim=2) / m.sum(dim=2).clamp_min(1.0)
        if mask is not None:
            x = x.masked_fill(~mask.unsqueeze(1), float("-inf"))
        if self.mode == "max":
            return x.amax(dim=2)
        # k columns of -inf at the end: a text with fewer than k windows gets zeros there, and k
        # is a constant (an exported graph works at every length). Equal values (the zeros of a
        # ReLU) are taken first come first, so which are kept never depends on the padding.
        x = nn.functional.pad(x, (0, self.k), value=float("-inf"))
        if torch.onnx.is_in_onnx_export():  # ONNX TopK puts the lower index first among equal values
            idx = x.topk(self.k, dim=2).indices
        else:  # torch.topk does not promise which; a stable sort does, and has no ONNX export
            idx = x.sort(dim=2, descending=True, stable=True).indices[..., : self.k]
        idx = idx.sort(dim=2).values
        out = x.gather(2, idx)
        out = out.masked_fill(torch.isinf(out), 0.0)
        return out.flatten(1)

    def extra_repr(self) -> str:
        return f"mode={self.mode}, k={self.k}"


class Highway(nn.Module):
    """Highway layers (Srivastava et al., 2015) over a feature vector: ``(B, D) -> (B, D)``.

    Each layer computes ``t * H(x) + (1 - t) * x``, with the transform ``H(x) = act(W_h x + b_h)``
    and the gate ``t = sigmoid(W_t x + b_t)``: a residual connection whose mix is learned per
    feature (``t = 1`` is a plain layer, ``t = 0`` passes ``x`` through). The gate's bias starts at
    ``gate_bias`` (-2, as the paper advises), so every layer begins close to the identity and
    the gradient reaches the layers below it undiminished, however many are stacked.

    Args:
        dim: width of the features.
        num_layers: layers stacked (0: the identity).
        act_layer: activation of the transform (see ``ACTIVATIONS``).
        gate_bias: starting bias of the gates.
    """

    def __init__(self, dim: int, num_layers: int = 1, act_layer: LayerSpec = "relu", gate_bias: float = -2.0):
        super().__init__()
        if num_layers < 0:
            raise ValueError(f"highway layers must be >= 0, got {num_layers}")
        self.transforms = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))
        self.gates = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))
        self.acts = nn.ModuleList(create_act(act_layer) for _ in range(num_layers))
        with torch.no_grad():
            for gate in self.gates:
                gate.bias.fill_(gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for transform, gate, act in zip(self.transforms, self.gates, self.acts):
            t = torch.sigmoid(gate(x))
            x = t * act(transform(x)) + (1 - t) * x
        return x
