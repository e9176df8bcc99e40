"""The benchmarks' logic; ``tools/analysis_tools/benchmark_*.py`` are thin command lines over it.

* :mod:`.timer`: the one timer (:func:`time_ms`, on :class:`torch.utils.benchmark.Timer`),
  :class:`Stopwatch` for one-off runs, :class:`Progress`;
* :mod:`.specs`: sizes, upsampler configs, ``--variant`` rows, the rows of a run;
* :mod:`.cost`: parameters, FLOPs, latency and peak memory of one upsampler;
* :mod:`.quality_recon`: held-out multi-view feature reconstruction;
* :mod:`.quality_probe`: FeatUp's linear probe on labelled ADE-format data;
* :mod:`.quality_seg`: end-to-end segmentation on the demo dataset;
* :mod:`.workers`: the quality jobs (one upsampler, one seed) serially or in processes;
* :mod:`.trained`: the upsamplers a run trained, reused by the probe;
* :mod:`.paired_stats`: per-photo / per-image paired statistics against a baseline;
* :mod:`.segmentor`: a whole segmentor from a config: FLOPs, train-step and inference time;
* :mod:`.floors`: the machine's measured peak multiply-add rate and copy bandwidth;
* :mod:`.report`: statistics (:func:`mean_std`), tables, ``results.md/json``;
* :mod:`.plot` and :mod:`.plot_labels`: the figure and its label placement.

Importing the package imports torch only; :mod:`.specs` (and every module that uses it)
registers the upsamplers; matplotlib, mmengine's runner and the training APIs are imported
by the functions that need them.
"""
from .report import mean_std
from .timer import Progress, Stopwatch, time_ms

__all__ = ['time_ms', 'Stopwatch', 'Progress', 'mean_std']
