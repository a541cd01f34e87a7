"""colorlib: the engine of the automatic image colorization course.

Lab conversions, data sources and datasets, the U-Net generator and PatchGAN discriminator,
L1 pretraining and pix2pix GAN training, and the metrics that score colorizations.
"""
__version__ = "0.1.0"


def __getattr__(name):
    # colorlib.load_colorizer(path) -> (generator, spec) and colorlib.colorize(image, generator, spec),
    # imported on first use: they need torch and fastai, which most commands do not.
    if name in ("colorize", "load_colorizer"):
        from colorlib import colorizer

        return getattr(colorizer, name)
    raise AttributeError(f"module 'colorlib' has no attribute {name!r}")
