"""A GRU written by hand, as a user of the seed notebook would write one: a Python loop over
time steps, its own parameter names (``Wx``, ``Wh``, ``bx``, ``bh``) and its own order of
arithmetic. Written by a helper trying ``rnn-verify`` as a new user (not from the seed notebook,
and not by rnn_impl's authors); verified with ``rnn-verify --impl my_gru:MyGRU --kind gru``."""

import math

import torch
from torch import nn


class MyGRU(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=False):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        H = hidden_size
        k = 1.0 / math.sqrt(H)
        self.Wx = nn.ParameterList()
        self.Wh = nn.ParameterList()
        self.bx = nn.ParameterList()
        self.bh = nn.ParameterList()
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else H
            self.Wx.append(nn.Parameter(torch.empty(3 * H, in_size).uniform_(-k, k)))
            self.Wh.append(nn.Parameter(torch.empty(3 * H, H).uniform_(-k, k)))
            self.bx.append(nn.Parameter(torch.empty(3 * H).uniform_(-k, k)))
            self.bh.append(nn.Parameter(torch.empty(3 * H).uniform_(-k, k)))

    def forward(self, x, h0=None):
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B, _ = x.shape
        H = self.hidden_size
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, B, H)
        layer_input = x
        finals = []
        for layer in range(self.num_layers):
            W, U = self.Wx[layer], self.Wh[layer]
            b, c = self.bx[layer], self.bh[layer]
            h = h0[layer]
            outs = []
            for t in range(T):
                gx = layer_input[t] @ W.T + b
                gh = h @ U.T + c
                r = torch.sigmoid(gx[:, :H] + gh[:, :H])
                z = torch.sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
                n = torch.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])
                h = (1 - z) * n + z * h
                outs.append(h)
            layer_input = torch.stack(outs) if outs else x.new_zeros(0, B, H)
            finals.append(h)
        out = layer_input
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, torch.stack(finals)
