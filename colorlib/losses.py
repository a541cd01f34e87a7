"""The adversarial loss: compares discriminator logits with an all-real or all-fake target."""
import torch
from torch import nn


class GANLoss(nn.Module):
    """pix2pix's GAN loss.

    Parameters
    ----------
    mode : {"vanilla", "lsgan"}
        ``"vanilla"``: binary cross-entropy on logits; ``"lsgan"``: mean squared error.
    real_label, fake_label : float
        Targets for real and fake patches.
    """

    def __init__(self, mode="vanilla", real_label=1.0, fake_label=0.0):
        super().__init__()
        losses = {"vanilla": nn.BCEWithLogitsLoss, "lsgan": nn.MSELoss}
        if mode not in losses:
            raise ValueError(f"GAN mode must be one of {sorted(losses)}, got {mode!r}")
        self.mode = mode
        self.register_buffer("real_label", torch.tensor(real_label))
        self.register_buffer("fake_label", torch.tensor(fake_label))
        self.loss = losses[mode]()

    def target(self, logits, real):
        """A target tensor shaped like the logits, all real or all fake."""
        return (self.real_label if real else self.fake_label).expand_as(logits)

    def forward(self, logits, real):
        logits = logits.float()  # losses in fp32, whatever precision the network ran in
        return self.loss(logits, self.target(logits, real))
