"""PyTorch eager's 784-256-256-10 training step at batch 256 (Adam) on the GPU,
the peer of cuda_benchmark's BM_TrainStep784x256x256x10Batch256. Run it on the
machine with the GPU (it has PyTorch): python3 bench/torch_gpu_step.py
"""
import time

import torch


def main():
    torch.manual_seed(0)
    device = torch.device("cuda:0")
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10)).to(device)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(256, 784, device=device)
    y = (torch.arange(256, device=device) % 10)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        adam.zero_grad()
        loss.backward()
        adam.step()

    for _ in range(50):
        step()
    torch.cuda.synchronize()
    for _ in range(3):
        n = 500
        start = time.perf_counter()
        for _ in range(n):
            step()
            torch.cuda.synchronize()
        print("torch eager step: %.1f us" % (1e6 * (time.perf_counter() - start) / n))


if __name__ == "__main__":
    main()
