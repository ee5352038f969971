#!/usr/bin/env python3
"""The same network and training step as benches/model.rs, in PyTorch on the CPU (or CUDA), for comparing
training throughput (patches per second; forward + backward + Adam step, batch 32 of 128x128).

    python3 -m pip install torch numpy
    taskset -c 0 python3 benches/torch_train.py     # one core, like `taskset -c 0 cargo bench --bench model`
    python3 benches/torch_train.py --cuda           # on an NVIDIA GPU: the GPU backend's reference
"""
import os
import sys
import time

import torch
from torch import nn

BATCH = 32


class TemporalBlock(nn.Module):
    def __init__(self, cin, cout, pool):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, 3, padding=1)
        self.norm = nn.LayerNorm(cout)
        self.pool = pool

    def forward(self, x):  # [batch, channels, time]
        x = self.conv(x).transpose(1, 2)
        x = torch.relu(self.norm(x)).transpose(1, 2)
        return nn.functional.max_pool1d(x, 2) if self.pool else x


class Net(nn.Module):
    def __init__(self, n_mels=128, channels=(128, 128, 256, 256), dim=32, classes=8):
        super().__init__()
        blocks, cin = [], n_mels
        for i, c in enumerate(channels):
            blocks.append(TemporalBlock(cin, c, i + 1 < len(channels)))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.embedding = nn.Linear(2 * cin, dim)
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(dim, classes)

    def forward(self, x):  # [batch, mels, frames]
        x = self.blocks(x)
        e = self.embedding(torch.cat([x.mean(2), x.amax(2)], 1))
        return self.classifier(self.dropout(torch.relu(e)))


def main():
    # --cuda: the reference for the GPU backend, where PyTorch has a CUDA device (exit 3 if not).
    cuda = "--cuda" in sys.argv[1:]
    if cuda and not torch.cuda.is_available():
        print("PyTorch has no CUDA device", file=sys.stderr)
        sys.exit(3)
    device = torch.device("cuda" if cuda else "cpu")
    threads = int(os.environ.get("TORCH_THREADS", len(os.sched_getaffinity(0))))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Net().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(BATCH, 128, 128, device=device)
    y = torch.arange(BATCH, device=device) % 8
    loss_fn = nn.CrossEntropyLoss()
    # CUDA runs asynchronously: the clock is read only once the device has finished.
    finish = torch.cuda.synchronize if cuda else (lambda: None)

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    finish()
    steps = 10
    start = time.perf_counter()
    for _ in range(steps):
        step()
    finish()
    rate = steps * BATCH / (time.perf_counter() - start)
    if cuda:
        print(f"| PyTorch {torch.__version__} CUDA, {torch.cuda.get_device_name()} | {rate:.0f} |")
    else:
        print(f"| PyTorch {torch.__version__} CPU, {threads} thread(s) | {rate:.0f} |")


if __name__ == "__main__":
    main()
