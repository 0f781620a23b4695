"""The project's RNN: nn.RNN's contract, its parameters under the project's own names."""

from __future__ import annotations

from torch import Tensor, nn

import rnn_impl
from rnn_impl.testing import Adapter


class MyRNN(nn.Module):
    """Takes nn.RNN's arguments and returns what nn.RNN returns; its parameters are those of
    its ``recurrent`` submodule (``recurrent.weight_ih_l0``, ...), so its ``state_dict`` is not
    nn.RNN's. That is the known gap, listed in tests/rnn-expected-failures.txt."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()
        self.recurrent = rnn_impl.RNN(*args, **kwargs)

    def __getattr__(self, name: str):
        """nn.RNN's attributes (``input_size``, ``bidirectional``, ...) are the wrapped RNN's."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "recurrent":  # not built yet
                raise
            try:
                return getattr(self.recurrent, name)
            except AttributeError:
                raise AttributeError(f"'MyRNN' object has no attribute {name!r}") from None

    def forward(self, input, hx: Tensor | None = None):
        return self.recurrent(input, hx)

    def extra_repr(self) -> str:
        return self.recurrent.extra_repr()


class MyAdapter(Adapter):
    """nn.RNN's ``weight_ih_l0`` is MyRNN's ``recurrent.weight_ih_l0``, and so on."""

    def load(self, impl: nn.Module, reference: nn.Module) -> None:
        impl.recurrent.load_state_dict(reference.state_dict())

    def named_parameters(self, impl: nn.Module) -> dict[str, Tensor]:
        return dict(impl.recurrent.named_parameters())
