"""The seed notebook's MyRNN with its bugs fixed, its constructor and parameters unchanged:
time-major unless ``first_batch``, the hidden state stacked as ``(layers, batch, hidden)``,
the zero state in the input's dtype and device, a given state never modified, and non-batched
input refused. rnn-verify finds it computes what nn.RNN computes."""

import torch
import torch.nn as nn


class MyRNN(nn.Module):
    def __init__(self, input_size, hidden_size, layers_size, first_batch=False):
        super().__init__()
        self.hidden_size = hidden_size
        self.layers_size = layers_size
        self.first_batch = first_batch
        sizes = [input_size] + [hidden_size] * (layers_size - 1)
        self.w_in = nn.ParameterList(
            [nn.Parameter(torch.randn(hidden_size, n) * 0.01) for n in sizes]
        )
        self.w_hh = nn.ParameterList(
            [nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.01) for _ in sizes]
        )
        self.bh = nn.ParameterList([nn.Parameter(torch.zeros(hidden_size)) for _ in sizes])

    def forward(self, inputs, hidden=None):
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
            raise ValueError("MyRNN takes batched 3-D input only")
        if self.first_batch:
            inputs = inputs.transpose(0, 1)
        seq_len, batch_size, _ = inputs.shape
        if hidden is None:
            hidden = inputs.new_zeros(self.layers_size, batch_size, self.hidden_size)
        hidden = list(hidden.unbind(0))
        outputs = []
        for t in range(seq_len):
            x = inputs[t]
            for layer in range(self.layers_size):
                x = torch.tanh(
                    torch.mm(x, self.w_in[layer].t())
                    + torch.mm(hidden[layer], self.w_hh[layer].t())
                    + self.bh[layer]
                )
                hidden[layer] = x
            outputs.append(x)
        outputs = torch.stack(outputs)
        if self.first_batch:
            outputs = outputs.transpose(0, 1)
        return outputs, torch.stack(hidden)
