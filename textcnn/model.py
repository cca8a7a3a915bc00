"""The TextCNN of Kim (2014) as a plain ``nn.Module``: embedding channels, a bank of
Conv-Norm-Act blocks of several window sizes, pooling over time, dropout and a linear
head that returns logits. Never imports Lightning.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from .layers import ConvNormAct, GlobalPool1d, Highway, LayerSpec, MaskedBatchNorm1d, init_weights
from .text import min_padded_len

__all__ = ["CONV_PADDINGS", "VARIANTS", "TextCNN", "pad_batch"]

VARIANTS = ("rand", "static", "non-static", "multichannel")
CONV_PADDINGS = ("valid", "wide")
RAND_INIT = 0.25  # half-width of the uniform random embedding table (Kim 2014)


def pad_batch(ids: Sequence[Sequence[int]], min_len: int = 1, pad_id: int = 0) -> torch.Tensor:
    """Right-pad token-id lists to ``(B, max(longest, min_len))``; ``min_len`` is the model's
    ``min_len`` (the largest conv window, 1 with wide padding), so every text gives a window."""
    width = max(min_len, max((len(x) for x in ids), default=0))
    out = torch.full((len(ids), width), pad_id, dtype=torch.long)
    for row, x in enumerate(ids):
        if x:
            out[row, : len(x)] = torch.as_tensor(x, dtype=torch.long)
    return out


def _embedding(vocab_size: int, embed_dim: int, padding_idx: int, **kwargs) -> nn.Embedding:
    """``nn.Embedding``, without its N(0, 1) initialisation when built on the meta device (a
    bundle being loaded, whose weights replace the table): drawn there, ``normal_`` imports
    ``torch._dynamo``, a second and 100 MB on a service's first load. Elsewhere it is drawn,
    so that seeded runs go on drawing the random numbers they always did."""
    if torch.empty(0).device.type == "meta":
        kwargs["_weight"] = torch.empty(vocab_size, embed_dim)
    return nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx, **kwargs)


class TextCNN(nn.Module):
    """Kim's convolutional sentence classifier: ``(B, L)`` token ids -> ``(B, num_classes)`` logits.

    Variants:
        - ``rand``: a randomly initialised table, trained.
        - ``static``: the pretrained table, frozen.
        - ``non-static``: the pretrained table, fine-tuned.
        - ``multichannel``: two copies of the pretrained table, one frozen and one fine-tuned.
          Each filter is applied to both channels and the results are added, as in the
          paper. Convolution is linear, so ``W*x_static + W*x_tuned + b`` is computed as
          ``W*(x_static + x_tuned) + b``: one convolution, the same function and gradients.

    Args:
        vocab_size: rows of the embedding table (id 0 is padding).
        num_classes: number of labels.
        embed_dim: width of the word vectors.
        variant: one of ``VARIANTS``.
        kernel_sizes: window widths of the conv bank.
        num_filters: feature maps per window width.
        act_layer: activation after each convolution: a name (see ``layers.ACTIVATIONS``), an
            ``nn.Module`` class such as ``nn.GELU``, or ``None`` for none.
        norm_layer: ``none``/``None`` or ``batchnorm`` (per feature map over batch x length,
            padding left out), or an ``nn.Module`` class taking the number of feature maps.
        pooling: ``max`` (Kim's 1-max), ``kmax`` or ``avg`` over time.
        pool_k: k for ``kmax`` pooling.
        drop_rate: dropout before the head.
        init: weight initialisation of convolutions and head (see ``layers.INITS``).
        padding_idx: id of the padding token.
        conv_padding: ``valid`` (windows wholly inside the text) or ``wide``: ``k - 1`` zero
            vectors at each end, so windows that overhang the first or last words count too
            (Kalchbrenner et al.'s "wide" convolution; Kim's code pads every sentence with
            ``max(k) - 1`` zero vectors in front and to a fixed length behind).
        highway: highway layers between the pooled features and dropout (0, Kim: none; see
            ``layers.Highway``), with the convolutions' activation and initialisation.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 300,
        variant: str = "multichannel",
        kernel_sizes: Sequence[int] = (3, 4, 5),
        num_filters: int = 100,
        act_layer: LayerSpec = "relu",
        norm_layer: LayerSpec = None,
        pooling: str = "max",
        pool_k: int = 1,
        drop_rate: float = 0.5,
        init: str = "default",
        padding_idx: int = 0,
        conv_padding: str = "valid",
        highway: int = 0,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
        if conv_padding not in CONV_PADDINGS:
            raise ValueError(f"unknown conv_padding {conv_padding!r}; choose one of: {', '.join(CONV_PADDINGS)}")
        if not kernel_sizes or min(kernel_sizes) < 1:
            raise ValueError(f"kernel_sizes must be positive window widths, got {list(kernel_sizes)}")
        if num_filters < 1 or embed_dim < 1:
            raise ValueError(f"num_filters and embed_dim must be at least 1, got {num_filters} and {embed_dim}")
        if highway < 0:
            raise ValueError(f"highway must be 0 (none) or a number of layers, got {highway}")
        if vocab_size < 2 or num_classes < 2:
            raise ValueError(f"need vocab_size >= 2 and num_classes >= 2, got {vocab_size} and {num_classes}")
        self.variant = variant
        self.conv_padding = conv_padding
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.padding_idx = padding_idx
        self.num_classes = num_classes

        self.embedding = _embedding(vocab_size, embed_dim, padding_idx)
        # Kim's random table, U[-0.25, 0.25] (std 0.14): PyTorch's N(0, 1) is seven times wider
        # and Adadelta's small early steps barely move it (MR CNN-rand dev 60% after 7 epochs).
        with torch.no_grad():
            self.embedding.weight.uniform_(-RAND_INIT, RAND_INIT)
            self.embedding.weight[padding_idx].zero_()
        if variant == "static":
            self.embedding.weight.requires_grad_(False)
        # The frozen copy of multichannel; a frozen Parameter (not a buffer) so that it is
        # counted and saved like any weight and moves with the module.
        self.embedding_static = (
            _embedding(vocab_size, embed_dim, padding_idx, _freeze=True) if variant == "multichannel" else None
        )
        if self.embedding_static is not None:  # both channels start from one table, until load_pretrained
            with torch.no_grad():
                self.embedding_static.weight.copy_(self.embedding.weight)
        self.convs = nn.ModuleList(
            ConvNormAct(embed_dim, num_filters, k, padding=self.overhang(k), norm_layer=norm_layer,
                        act_layer=act_layer)
            for k in self.kernel_sizes
        )
        # batch norm's training statistics leave out the windows in padding (they need the mask)
        self.masked_norm = any(isinstance(m, MaskedBatchNorm1d) for m in self.convs.modules())
        self.pool = GlobalPool1d(pooling, pool_k)
        self.num_features = num_filters * len(self.kernel_sizes) * self.pool.k
        self.highway = Highway(self.num_features, highway, act_layer) if highway else None
        self.dropout = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes)
        init_weights(self.convs, init, nonlinearity=act_layer)
        if self.highway is not None:
            init_weights(self.highway.transforms, init, nonlinearity=act_layer)
        init_weights(self.head, init, nonlinearity="linear")

    @property
    def min_len(self) -> int:
        """Shortest input the conv bank accepts: the largest window (1 with wide padding)."""
        return min_padded_len(self.kernel_sizes, self.conv_padding)

    def overhang(self, kernel_size: int) -> int:
        """Zero vectors added at each end for windows of ``kernel_size`` (0 when ``valid``)."""
        return kernel_size - 1 if self.conv_padding == "wide" else 0

    def window_tokens(self, window: int, kernel_size: int, length: int) -> range:
        """The token positions of a text of ``length`` tokens that window ``window`` covers."""
        start = window - self.overhang(kernel_size)
        return range(max(start, 0), min(start + kernel_size, length))

    @torch.no_grad()
    def load_pretrained(self, vectors: torch.Tensor) -> None:
        """Copy a ``(vocab_size, embed_dim)`` pretrained table into every embedding channel; the
        padding row is set to zeros (the zero vectors that pad short texts and wide windows)."""
        vectors = torch.as_tensor(vectors, dtype=self.embedding.weight.dtype)
        if vectors.shape != self.embedding.weight.shape:
            raise ValueError(
                f"pretrained table has shape {tuple(vectors.shape)}, the model expects "
                f"{tuple(self.embedding.weight.shape)} (vocab_size, embed_dim)"
            )
        for emb in (self.embedding, self.embedding_static):
            if emb is not None:
                emb.weight.copy_(vectors)
                emb.weight[self.padding_idx].zero_()

    def window_mask(self, tokens: torch.Tensor, kernel_size: int) -> torch.Tensor:
        """``(B, L')`` bool mask of the windows that belong to each text (``L'`` is the conv
        output length: ``L - k + 1``, or ``L + k - 1`` with wide padding).

        ``valid``: a window counts when it lies wholly within the text, or is the first window
        of a text shorter than ``kernel_size``. ``wide``: a window counts when it overlaps the
        text. Either way a text's output never depends on how much padding its batch needed.
        """
        lengths = (tokens != self.padding_idx).sum(dim=1)
        pad = self.overhang(kernel_size)
        valid = (lengths - kernel_size + 1 + 2 * pad).clamp_min(1)
        positions = torch.arange(tokens.shape[1] - kernel_size + 1 + 2 * pad, device=tokens.device)
        return positions.unsqueeze(0) < valid.unsqueeze(1)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids -> ``(B, D, L)`` channel-first embeddings (channels summed)."""
        try:
            x = self.embedding(tokens)
        except IndexError:  # on the CPU; checked only here, so the usual path has no device sync
            n = self.embedding.num_embeddings
            raise IndexError(
                f"token ids must lie in [0, {n}) (the model's vocab_size), got ids from "
                f"{int(tokens.min())} to {int(tokens.max())}: were they made with another vocabulary?"
            ) from None
        if self.embedding_static is not None:
            x = x + self.embedding_static(tokens)
        return x.transpose(1, 2)

    def forward_conv(self, tokens: torch.Tensor, masks: Optional[Sequence[torch.Tensor]] = None) -> list[torch.Tensor]:
        """Per window size ``k``, the conv feature maps ``(B, F, L')``: ``L' = L - k + 1``, or
        ``L + k - 1`` with wide padding (as ``window_mask``). ``masks``: the
        ``window_mask`` of each window size, from a caller that has them (and checked ``tokens``)."""
        if masks is None:
            self.check_input(tokens)
        x = self.embed(tokens)
        if not self.masked_norm:
            return [conv(x) for conv in self.convs]
        if masks is None:
            masks = [self.window_mask(tokens, k) for k in self.kernel_sizes]
        return [conv(x, m) for conv, m in zip(self.convs, masks)]

    def check_input(self, tokens: torch.Tensor) -> None:
        """A clear error for input that is not a ``(B, L)`` tensor of token ids long enough for
        the widest window (instead of torch's own, from deep inside the first layer)."""
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.is_floating_point():
            what = (f"a {type(tokens).__name__}" if not isinstance(tokens, torch.Tensor)
                    else f"a tensor of shape {tuple(tokens.shape)} and dtype {tokens.dtype}")
            raise TypeError(f"TextCNN takes a (batch, length) tensor of token ids (torch.long), got {what}; "
                            "e.g. torch.tensor([ids]) for one text")
        if tokens.shape[1] < self.min_len:
            raise ValueError(
                f"input of length {tokens.shape[1]} is shorter than the model's min_len "
                f"({self.min_len}); pad it with padding_idx={self.padding_idx}"
            )

    def forward_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids -> ``(B, num_features)`` pooled features."""
        self.check_input(tokens)
        masks = [self.window_mask(tokens, k) for k in self.kernel_sizes]  # for the norm and the pooling
        maps = self.forward_conv(tokens, masks)
        return torch.cat([self.pool(m, mask) for m, mask in zip(maps, masks)], dim=1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, num_features)`` -> ``(B, num_classes)`` logits."""
        if self.highway is not None:
            features = self.highway(features)
        return self.head(self.dropout(features))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` token ids -> ``(B, num_classes)`` logits."""
        return self.forward_head(self.forward_features(tokens))

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float) -> None:
        """Rescale each row of the head's weight to L2 norm <= ``max_norm`` (Kim's s = 3)."""
        w = self.head.weight
        w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=max_norm))
