"""Foreign controls: correct implementations of torch's equations, written the way people
write them, in other orders of arithmetic than ATen's. No property judged by a tolerance or a
law may reject them (``docs/false-alarms.md`` measures it); only the bit-exact and drop-in API
properties may.

Each is a plain ``nn.Module`` with torch's constructor and parameter names (but
:class:`LinearLayersRNN`, whose parameters live in ``nn.Linear`` layers, with its adapter),
its own time loop over padded, time-major input (a packed sequence is padded and packed again,
a sequence shorter than the batch's longest stops where it ends), and one way of summing a
step:

* :class:`NotebookRNN`: ``x @ W_ih.T + b_ih + h @ W_hh.T + b_hh``, left to right, a step at a
  time, as a notebook writes it;
* :class:`FusedGemmRNN`: one product a step over ``[x, h]`` and ``[W_ih, W_hh]``, the two
  biases summed first;
* :class:`EinsumRNN`: the input projection of every step at once (``einsum``), then the
  recurrent product added;
* :class:`CellLoopRNN`: ``torch.rnn_tanh_cell`` / ``rnn_relu_cell`` a step at a time (ATen's
  cell, which projects each step's input on its own);
* :class:`Float64RNN`: every step in float64, cast back to the module's dtype;
* :class:`LinearLayersRNN`: ``nn.Linear`` layers, input first;
* :class:`TextbookGRU`, :class:`TextbookLSTM`: torch's equations gate by gate (GRU's reset
  gate on ``W_hn h + b_hn``; LSTM's gates in torch's order ``i, f, g, o``);
* :class:`NotebookRNNCell`, :class:`TextbookGRUCell`, :class:`TextbookLSTMCell`: their cells.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnn_impl.testing.kinds import GRU, GRU_CELL, LSTM, LSTM_CELL, RNN, RNN_CELL
from rnn_impl.testing.oracle import Adapter

Weights = dict[str, Any]
"""One layer and direction's ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` and ``w_hr``."""


class ForeignRNN(nn.Module):
    """Torch's constructor, parameter names, layouts and states, and a loop of its own;
    subclasses give a step (:meth:`step`: ``(x_t, state, weights) -> state``)."""

    rnn_verify_kind = RNN.name
    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.batch_first = nonlinearity, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = dropout, bidirectional, proj_size
        self.directions = 2 if bidirectional else 1
        out = proj_size or hidden_size
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            for suffix in ["", "_reverse"][: self.directions]:
                width = input_size if layer == 0 else out * self.directions
                shapes: dict[str, tuple[int, ...]] = {
                    "weight_ih": (self.gates * hidden_size, width),
                    "weight_hh": (self.gates * hidden_size, out),
                }
                if bias:
                    shapes |= {"bias_ih": (self.gates * hidden_size,)}
                    shapes |= {"bias_hh": (self.gates * hidden_size,)}
                if proj_size:
                    shapes |= {"weight_hr": (proj_size, hidden_size)}
                for name, shape in shapes.items():
                    weight = torch.empty(shape, device=device, dtype=dtype).uniform_(-bound, bound)
                    self.register_parameter(f"{name}_l{layer}{suffix}", nn.Parameter(weight))

    def weights(self, layer: int, direction: int) -> Weights:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        names = ("w_ih", "w_hh", "b_ih", "b_hh", "w_hr")
        parts = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return {n: getattr(self, p + suffix, None) for n, p in zip(names, parts)}

    def act(self, x: Tensor) -> Tensor:
        return torch.tanh(x) if self.nonlinearity == "tanh" else torch.relu(x)

    def step(self, x: Tensor, state: Any, w: Weights) -> Any:
        raise NotImplementedError

    def initial(self, batch: int, like: Tensor) -> Any:
        """The zero state of one layer and direction."""
        return like.new_zeros(batch, self.proj_size or self.hidden_size)

    def output(self, state: Any) -> Tensor:
        return state

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        packed = isinstance(input, PackedSequence)
        x: Any
        lengths: Any
        if packed:
            x, lengths = pad_packed_sequence(input, batch_first=self.batch_first)
        else:
            x, lengths = input, None
        unbatched = not packed and x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0 if self.batch_first else 1)
            hx = None if hx is None else _map(hx, lambda t: t.unsqueeze(1))
        if self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        mask = None
        if lengths is not None:
            mask = torch.arange(steps).view(-1, 1) < lengths.view(1, -1)
            mask = mask.to(x.device).unsqueeze(-1)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                state = self.initial(batch, x) if hx is None else _map(hx, lambda t, i=index: t[i])
                out, state = self.sequence(
                    x, state, self.weights(layer, direction), direction, mask
                )
                outputs.append(out)
                finals.append(state)
            x = torch.cat(outputs, -1)
            if layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, self.training)
        h_n: Any = (
            tuple(torch.stack([f[k] for f in finals]) for k in range(2))
            if isinstance(finals[0], tuple)
            else torch.stack(finals)
        )
        if self.batch_first:
            x = x.transpose(0, 1)
        if packed:
            x = pack_padded_sequence(
                x, lengths, self.batch_first, enforce_sorted=input.sorted_indices is None
            )
        elif unbatched:
            x = x.squeeze(0 if self.batch_first else 1)
            h_n = _map(h_n, lambda t: t.squeeze(1))
        return x, h_n

    def sequence(
        self, x: Tensor, state: Any, w: Weights, direction: int, mask: Tensor | None
    ) -> tuple[Tensor, Any]:
        """One layer and direction over ``x (T, B, I)``: outputs in time order, and the final
        state (a sequence shorter than ``T`` keeps its state past its end, and starts the
        reverse direction at its own last step)."""
        order = range(x.shape[0] - 1, -1, -1) if direction else range(x.shape[0])
        outputs: list[Tensor] = [x] * x.shape[0]
        for t in order:
            new = self.step(x[t], state, w)
            if mask is not None:
                new = _map2(new, state, lambda a, b, m=mask[t]: torch.where(m, a, b))
            state = new
            out = self.output(state)
            outputs[t] = out if mask is None else torch.where(mask[t], out, torch.zeros_like(out))
        return torch.stack(outputs), state


def _map(state: Any, f: Any) -> Any:
    return tuple(f(t) for t in state) if isinstance(state, tuple) else f(state)


def _map2(a: Any, b: Any, f: Any) -> Any:
    return tuple(f(x, y) for x, y in zip(a, b)) if isinstance(a, tuple) else f(a, b)


def _plus(x: Tensor, b: Tensor | None) -> Tensor:
    return x if b is None else x + b


class NotebookRNN(ForeignRNN):
    """``act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, left to right."""

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        total = _plus(x @ w["w_ih"].T, w["b_ih"])
        return self.act(_plus(total + h @ w["w_hh"].T, w["b_hh"]))


class FusedGemmRNN(ForeignRNN):
    """One product a step: ``[x, h] @ [W_ih, W_hh].T + (b_ih + b_hh)``."""

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        weight = torch.cat([w["w_ih"], w["w_hh"]], 1)
        total = torch.cat([x, h], 1) @ weight.T
        if w["b_ih"] is not None and w["b_hh"] is not None:
            total = total + (w["b_ih"] + w["b_hh"])
        return self.act(total)


class EinsumRNN(ForeignRNN):
    """The input projection of all steps at once, then ``h @ W_hh.T + b_hh`` added."""

    def sequence(self, x, state, w, direction, mask):
        self.projected = _plus(torch.einsum("tbi,hi->tbh", x, w["w_ih"]), w["b_ih"])
        self.t = iter(range(x.shape[0] - 1, -1, -1) if direction else range(x.shape[0]))
        return super().sequence(x, state, w, direction, mask)

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        return self.act(self.projected[next(self.t)] + _plus(h @ w["w_hh"].T, w["b_hh"]))


class CellLoopRNN(ForeignRNN):
    """``torch.rnn_tanh_cell`` (or ``rnn_relu_cell``) a step at a time."""

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        cell = torch.rnn_tanh_cell if self.nonlinearity == "tanh" else torch.rnn_relu_cell
        return cell(x, h, w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"])


class Float64RNN(ForeignRNN):
    """Every step in float64, cast back to the input's dtype."""

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        d: Weights = {k: None if v is None else v.double() for k, v in w.items()}
        total = _plus(x.double() @ d["w_ih"].T, d["b_ih"]) + _plus(
            h.double() @ d["w_hh"].T, d["b_hh"]
        )
        return self.act(total).to(x.dtype)


class LinearLayersRNN(ForeignRNN):
    """``nn.Linear`` layers (``ih.{k}``, ``hh.{k}``, ``k`` = 2 * layer + direction), input
    first; its parameters have other names (:class:`LinearLayersAdapter`)."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, *args, **kwargs)
        for name, _ in list(self.named_parameters()):
            delattr(self, name)
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        ih, hh = [], []
        for layer in range(self.num_layers):
            for _ in range(self.directions):
                width = input_size if layer == 0 else hidden_size * self.directions
                ih.append(nn.Linear(width, hidden_size, self.bias, device=device, dtype=dtype))
                hh.append(
                    nn.Linear(hidden_size, hidden_size, self.bias, device=device, dtype=dtype)
                )
        self.ih, self.hh = nn.ModuleList(ih), nn.ModuleList(hh)

    def weights(self, layer: int, direction: int) -> Weights:
        return {"k": layer * self.directions + direction}  # type: ignore[dict-item]

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        k = int(w["k"])  # type: ignore[arg-type]
        return self.act(self.ih[k](x) + self.hh[k](h))


class LinearLayersAdapter(Adapter):
    """torch's names onto :class:`LinearLayersRNN`'s layers."""

    def named_parameters(self, impl: Any) -> dict[str, Tensor]:
        found = {}
        for k, (ih, hh) in enumerate(zip(impl.ih, impl.hh)):
            suffix = f"_l{k // impl.directions}" + ("_reverse" if k % impl.directions else "")
            found[f"weight_ih{suffix}"], found[f"weight_hh{suffix}"] = ih.weight, hh.weight
            if impl.bias:
                found[f"bias_ih{suffix}"], found[f"bias_hh{suffix}"] = ih.bias, hh.bias
        return found

    def load(self, impl: nn.Module, reference: nn.Module) -> None:
        mine = self.named_parameters(impl)
        for name, value in reference.named_parameters():
            mine[name].copy_(value)


class TextbookGRU(ForeignRNN):
    """torch's GRU equations gate by gate: ``r``, ``z``, ``n = tanh(W_in x + b_in + r * (W_hn h
    + b_hn))``, ``h' = (1 - z) * n + z * h``."""

    rnn_verify_kind = GRU.name
    gates = 3

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        w_ir, w_iz, w_in = w["w_ih"].chunk(3)
        w_hr, w_hz, w_hn = w["w_hh"].chunk(3)
        b_ir, b_iz, b_in = w["b_ih"].chunk(3) if w["b_ih"] is not None else (None,) * 3
        b_hr, b_hz, b_hn = w["b_hh"].chunk(3) if w["b_hh"] is not None else (None,) * 3
        r = torch.sigmoid(_plus(x @ w_ir.T, b_ir) + _plus(h @ w_hr.T, b_hr))
        z = torch.sigmoid(_plus(x @ w_iz.T, b_iz) + _plus(h @ w_hz.T, b_hz))
        n = torch.tanh(_plus(x @ w_in.T, b_in) + r * _plus(h @ w_hn.T, b_hn))
        return (1 - z) * n + z * h


class TextbookLSTM(ForeignRNN):
    """torch's LSTM equations gate by gate (``i, f, g, o``), ``c' = f * c + i * g``,
    ``h' = o * tanh(c')``, projected by ``W_hr`` when ``proj_size > 0``."""

    rnn_verify_kind = LSTM.name
    gates = 4

    def initial(self, batch: int, like: Tensor) -> Any:
        return like.new_zeros(batch, self.proj_size or self.hidden_size), like.new_zeros(
            batch, self.hidden_size
        )

    def output(self, state: Any) -> Tensor:
        return state[0]

    def step(self, x: Tensor, state: Any, w: Weights) -> Any:
        h, c = state
        parts = []
        for k, act in enumerate((torch.sigmoid, torch.sigmoid, torch.tanh, torch.sigmoid)):
            rows = slice(k * self.hidden_size, (k + 1) * self.hidden_size)
            total = x @ w["w_ih"][rows].T + h @ w["w_hh"][rows].T
            if w["b_ih"] is not None and w["b_hh"] is not None:
                total = total + w["b_ih"][rows] + w["b_hh"][rows]
            parts.append(act(total))
        i, f, g, o = parts
        c = f * c + i * g
        h = o * torch.tanh(c)
        return (h if w["w_hr"] is None else h @ w["w_hr"].T), c


class ForeignCell(nn.Module):
    """A cell with torch's constructor and parameters, batching its input as torch's does;
    subclasses give :meth:`step`."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        bound = 1 / math.sqrt(hidden_size)
        rows = self.gates * hidden_size
        shapes: dict[str, tuple[int, ...]] = {
            "weight_ih": (rows, input_size),
            "weight_hh": (rows, hidden_size),
        }
        if bias:
            shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
        for name, shape in shapes.items():
            weight = torch.empty(shape, device=device, dtype=dtype).uniform_(-bound, bound)
            self.register_parameter(name, nn.Parameter(weight))
        if not bias:
            self.bias_ih = self.bias_hh = None

    def weights(self) -> Weights:
        return {
            "w_ih": self.weight_ih,
            "w_hh": self.weight_hh,
            "b_ih": self.bias_ih,
            "b_hh": self.bias_hh,
            "w_hr": None,
        }

    def step(self, x: Tensor, state: Any, w: Weights) -> Any:
        raise NotImplementedError

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            hx = (zeros, zeros) if self.gates == 4 else zeros
        elif unbatched:
            hx = _map(hx, lambda t: t.unsqueeze(0))
        out = self.step(x, hx, self.weights())
        return _map(out, lambda t: t.squeeze(0)) if unbatched else out


class NotebookRNNCell(ForeignCell):
    """``act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``."""

    rnn_verify_kind = RNN_CELL.name

    def step(self, x: Tensor, h: Tensor, w: Weights) -> Tensor:
        total = _plus(_plus(x @ w["w_ih"].T, w["b_ih"]) + h @ w["w_hh"].T, w["b_hh"])
        return torch.tanh(total) if self.nonlinearity == "tanh" else torch.relu(total)


class TextbookGRUCell(ForeignCell):
    """:class:`TextbookGRU`'s step as a cell."""

    rnn_verify_kind = GRU_CELL.name
    gates = 3
    step = TextbookGRU.step  # type: ignore[assignment]


class TextbookLSTMCell(ForeignCell):
    """:class:`TextbookLSTM`'s step as a cell (no projection)."""

    rnn_verify_kind = LSTM_CELL.name
    gates = 4
    step = TextbookLSTM.step
