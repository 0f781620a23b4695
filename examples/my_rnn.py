"""An RNN written the way many people write their first one, and the adapter that lets
rnn-verify check it against torch.nn.RNN.

    rnn-verify --impl examples.my_rnn:MyRNN --adapter examples.my_rnn:MyAdapter --layout batched
    rnn-verify ... --layout batched --fix batch_first=false --fix bidirectional=false

(run from the repository root). Its parameters have its own names (``cells.0.w_x``, ...) and it
only takes batched, time-major input, which is what ``--layout batched`` says. It sums
``x W^T + h W^T + b`` in another order than ATen, keeps one bias where nn.RNN has two, and
supports neither ``batch_first`` nor ``bidirectional``: the second command holds those fixed
(``--fix``), so what remains is what it gets wrong. With it the report shows its outputs and
gradients right in every dtype (``output_close``, ``gradients``, ``gradcheck`` and
``conversion`` pass, within the float64 oracle bound), and what it lacks: bit-exactness
(``output_exact``, with ``needs: bias=True``: its single bias rounds otherwise), nn.RNN's
errors, parameter names, ``repr`` and initialisation, autocast and dropout. Without ``--fix`` the configurations it cannot build fail
as "the adapter failed to load nn.RNN's weights into ... built with RNN(..., bidirectional=True)
... narrow the run: --fix".
"""

from __future__ import annotations

import torch
from torch import nn

from rnn_impl.testing import Adapter


class Cell(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, relu: bool) -> None:
        super().__init__()
        self.w_x = nn.Parameter(torch.randn(hidden_size, input_size) * 0.1)
        self.w_h = nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.1)
        self.b = nn.Parameter(torch.zeros(hidden_size))
        self.act = torch.relu if relu else torch.tanh

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.act(x @ self.w_x.T + h @ self.w_h.T + self.b)


class MyRNN(nn.Module):
    """Takes nn.RNN's constructor arguments; supports num_layers and nonlinearity only."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.hidden_size = hidden_size
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(Cell(n, hidden_size, nonlinearity == "relu") for n in sizes)
        self.to(device=device, dtype=dtype)

    def forward(self, x, h0=None):
        steps, batch, _ = x.shape
        if h0 is None:
            h0 = x.new_zeros(len(self.cells), batch, self.hidden_size)
        finals = []
        for layer, cell in enumerate(self.cells):
            h, outputs = h0[layer], []
            for t in range(steps):
                h = cell(x[t], h)
                outputs.append(h)
            x = torch.stack(outputs)
            finals.append(h)
        return x, torch.stack(finals)


class MyAdapter(Adapter):
    """nn.RNN's weight_ih_l{k} / weight_hh_l{k} -> cells[k].w_x / w_h; b_ih + b_hh -> b."""

    def load(self, impl, reference):
        for k, cell in enumerate(impl.cells):
            cell.w_x.copy_(getattr(reference, f"weight_ih_l{k}"))
            cell.w_h.copy_(getattr(reference, f"weight_hh_l{k}"))
            if reference.bias:
                cell.b.copy_(
                    getattr(reference, f"bias_ih_l{k}") + getattr(reference, f"bias_hh_l{k}")
                )
            else:
                cell.b.zero_()

    def named_parameters(self, impl):
        named = {}
        for k, cell in enumerate(impl.cells):
            named |= {f"weight_ih_l{k}": cell.w_x, f"weight_hh_l{k}": cell.w_h}
            named |= {f"bias_ih_l{k}": cell.b, f"bias_hh_l{k}": cell.b}
        return named
