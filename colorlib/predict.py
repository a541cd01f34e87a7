"""Running a trained generator: predicted ab for a batch of L, in evaluation mode."""
import torch

from colorlib.runtime import autocast


@torch.no_grad()
def predict_ab(generator, L, precision="fp32", batch_size=16):
    """Predict normalised ab for normalised L.

    Parameters
    ----------
    generator : nn.Module
    L : Tensor, shape (N, 1, H, W)
    precision : {"fp32", "bf16"}
    batch_size : int
        Images per forward pass, to bound memory.

    Returns
    -------
    Tensor, shape (N, 2, H, W), float32, on the CPU
    """
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        chunks = []
        for start in range(0, len(L), batch_size):
            chunk = L[start:start + batch_size].to(device)
            with autocast(device, precision):
                chunks.append(generator(chunk).float().cpu())
        return torch.cat(chunks)
    finally:
        generator.train(was_training)
