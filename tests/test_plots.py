import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402
from skimage.color import rgb2lab  # noqa: E402

from colorlib.plots import lab_axis_colormap, plot_pretraining, running_mean, show_lab_channels  # noqa: E402


def test_lab_axis_colormaps_run_from_one_colour_through_grey_to_its_opposite():
    a, b = lab_axis_colormap("a"), lab_axis_colormap("b")
    green, grey, red = a(0.0), a(0.5), a(1.0)
    assert green[1] > green[0] and red[0] > red[1]  # green end, red end
    assert np.ptp(grey[:3]) < 0.02  # grey in the middle: no colour at a* = 0
    assert b(0.0)[2] > b(0.0)[0] and b(1.0)[0] > b(1.0)[2]  # blue end, yellow end


def test_lab_channels_show_the_photo_and_three_channels_with_colour_bars():
    fig = show_lab_channels(rgb2lab(data.astronaut()[::8, ::8]))
    assert len(fig.axes) == 4 + 3  # four panels and three colour bars
    a_panel = fig.axes[2].images[0]
    assert a_panel.norm.vmin == -a_panel.norm.vmax  # centred on 0
    plt.close(fig)


def test_pretraining_plot_shows_steps_checks_and_grey_and_skips_what_is_missing():
    checks = [[{"step": 2, "val_L1": 0.3, "grey_L1": 0.2}, {"step": 4, "val_L1": 0.25, "grey_L1": 0.2}],
              [{"step": 6, "val_L1": 0.2, "grey_L1": 0.2}, {"step": 8, "val_L1": 0.15, "grey_L1": 0.2}]]
    history = [{"epoch": e + 1, "L1": 0.3, "step_losses": {"L1": [0.4, 0.3, 0.3, 0.2]}, "checks": checks[e]}
               for e in (0, 1)]
    fig = plot_pretraining(history)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["training L1 (running mean)", "validation L1, every validation photo",
                      "grey (no colour), validation L1"]
    assert list(fig.axes[0].lines[0].get_xdata()) == list(range(1, 9))  # each epoch's steps end at its last check
    assert list(fig.axes[0].lines[2].get_xdata()) == [2, 4, 6, 8]
    plt.close(fig)
    old = [{"epoch": 1, "cross_entropy": 2.0}]  # a history from before validation was recorded
    fig = plot_pretraining(old, "cross_entropy")
    assert len(fig.axes) == 2 and not fig.axes[0].lines and not fig.axes[1].lines
    plt.close(fig)


def test_running_mean_averages_a_trailing_window():
    assert list(running_mean([1.0, 3.0, 5.0, 7.0], share=0.5)) == [1.0, 2.0, 4.0, 6.0]
