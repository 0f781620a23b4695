"""``python -m rnn_impl``: build rnn_impl.RNN next to nn.RNN and show they agree."""

from __future__ import annotations

import torch
from torch import nn

import rnn_impl


def main() -> int:
    torch.manual_seed(0)
    reference = nn.RNN(8, 16, num_layers=2, bidirectional=True, batch_first=True)
    torch.manual_seed(0)
    impl = rnn_impl.RNN(8, 16, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(4, 10, 8)
    (out_e, h_e), (out_a, h_a) = reference(x), impl(x)
    same = torch.equal(out_a, out_e) and torch.equal(h_a, h_e)
    print(f"torch {torch.__version__}: {impl}")
    print(f"output {tuple(out_a.shape)}, h_n {tuple(h_a.shape)}, bit-identical to nn.RNN: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
