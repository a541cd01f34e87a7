"""SSIM of a whole batch at once, in torch: scikit-image's ``structural_similarity``, vectorised.

Scoring a validation set image by image with scikit-image is slow; :func:`ssim_batch` scores
every image of an (N, C, H, W) batch together, on any device, and agrees with scikit-image.
"""

import torch

WIN_SIZE = 7  # scikit-image's default uniform window
K1, K2 = 0.01, 0.03  # scikit-image's (and Wang et al.'s) stabilising constants


def ssim_batch(x, y, data_range, chunk_size=2):
    """Mean SSIM of each image pair of a batch, as scikit-image's ``structural_similarity``.

    The recipe is scikit-image's default: a 7x7 uniform window, K1 = 0.01, K2 = 0.03, the
    sample covariance, a 3-pixel border left out of the mean, and the channels averaged (its
    ``channel_axis``). Computed in float32; on photos, on nearly flat images and on ab channels
    it agrees with scikit-image's float64 result to about 1e-6.

    Parameters
    ----------
    x, y : Tensor, shape (N, C, H, W)
        H and W at least 7.
    data_range : float or Tensor, shape (N,)
        The data range that sets the constants C1 = (K1 R)^2 and C2 = (K2 R)^2: one for all
        images, or one per image (the capstone's ``fake.max() - fake.min()``).
    chunk_size : int
        Images computed together: bounds memory, and on a CPU keeps a chunk in cache (2 was
        fastest here, for 128 and 256 px images; a GPU prefers more).

    Returns
    -------
    Tensor, shape (N,), float64, on x's device
    """
    if x.shape != y.shape or x.ndim != 4:
        shapes = f"{tuple(x.shape)} and {tuple(y.shape)}"
        raise ValueError(f"expected two (N, C, H, W) batches of one shape, got {shapes}")
    if min(x.shape[-2:]) < WIN_SIZE:
        raise ValueError(f"images must be at least {WIN_SIZE}x{WIN_SIZE}, got {tuple(x.shape[-2:])}")
    data_range = torch.as_tensor(data_range, dtype=torch.float32, device=x.device).expand(len(x))
    chunks = [slice(start, start + chunk_size) for start in range(0, len(x), chunk_size)]
    return torch.cat([_ssim(x[chunk], y[chunk], data_range[chunk]) for chunk in chunks])


def _ssim(x, y, data_range):
    # Each image's channel means are taken out first: variances and covariance do not change
    # with the shift, and E[x^2] - E[x]^2 then loses little to cancellation in float32 (without
    # it a nearly flat image, whose C1 and C2 are tiny, is off by up to 1e-2).
    x, y = x.float().contiguous(), y.float().contiguous()
    x_mean, y_mean = x.mean(dim=(2, 3), keepdim=True), y.mean(dim=(2, 3), keepdim=True)
    x, y = x - x_mean, y - y_mean
    ux, uy, uxx, uyy, uxy = _window_means(torch.stack([x, y, x * x, y * y, x * y]))
    cov_norm = WIN_SIZE**2 / (WIN_SIZE**2 - 1)  # sample covariance, as scikit-image
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    ux, uy = ux + x_mean, uy + y_mean
    c1 = (K1 * data_range).square().view(-1, 1, 1, 1)
    c2 = (K2 * data_range).square().view(-1, 1, 1, 1)
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3), dtype=torch.float64)


def _window_means(t):
    # The mean over every window that lies wholly inside the image: scikit-image's uniform
    # filter with the border it crops before averaging already left out.
    return t.unfold(-2, WIN_SIZE, 1).sum(-1).unfold(-1, WIN_SIZE, 1).sum(-1) / WIN_SIZE**2
