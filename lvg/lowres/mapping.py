"""Per-frame mapping network: temporal embedding -> intermediate latents w (paper Sec. 3.1).

Applied independently to every frame at the full frame rate (so it is trivially time-equivariant): the
embedding vector of each frame is normalised to unit second moment over channels, then passed through
``num_layers`` equalised fully connected layers with lrelu and learning-rate multiplier 0.01 (as StyleGAN's
mapping network, slowing its learning relative to synthesis).
"""

from __future__ import annotations

from torch import Tensor, nn

from lvg.nn.layers import FullyConnected


def normalize_2nd_moment(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x / sqrt(mean(x^2, dim) + eps)``."""
    return x * x.square().mean(dim=dim, keepdim=True).add(eps).rsqrt()


class MappingNetwork(nn.Module):
    """``[N, in_dim, T]`` temporal embedding -> ``[N, w_dim, T]`` latents, frame by frame."""

    def __init__(self, in_dim: int, w_dim: int, num_layers: int = 2, lr_mul: float = 0.01,
                 normalize_input: bool = True) -> None:
        super().__init__()
        self.in_dim, self.w_dim, self.normalize_input = in_dim, w_dim, normalize_input
        dims = [in_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            FullyConnected(a, b, lr_mul=lr_mul, activation="lrelu") for a, b in zip(dims[:-1], dims[1:], strict=True)
        )

    def forward(self, emb: Tensor) -> Tensor:
        assert emb.ndim == 3 and emb.shape[1] == self.in_dim, (tuple(emb.shape), self.in_dim)
        x = emb.transpose(1, 2)  # [N, T, C]: the layers act on the last axis, one row per frame
        if self.normalize_input:
            x = normalize_2nd_moment(x, dim=-1)
        for layer in self.layers:
            x = layer(x)
        return x.transpose(1, 2)
