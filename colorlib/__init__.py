"""colorlib: the engine of the automatic image colorization course.

Lab conversions, data sources and datasets, the U-Net generator and PatchGAN discriminator,
L1 pretraining and pix2pix GAN training, and the metrics that score colorizations.
"""
__version__ = "0.1.0"
