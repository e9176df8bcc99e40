import math
import statistics

import pytest

from mmfeatup.benchmark.paired_stats import paired_gain, probe_pairs, verdict


def test_paired_gain_values():
    baseline = [1.0, 2.0, 3.0, 2.0]
    trained = [[0.9, 1.8, 2.7, 1.8], [0.9, 1.8, 2.7, 1.8]]  # exactly 10% lower everywhere
    stats = paired_gain(baseline, trained)
    assert stats['gain'] == pytest.approx(0.10)
    assert stats['seed_gains'] == pytest.approx([0.10, 0.10])
    assert stats['photos_better'] == 4 and stats['num_photos'] == 4 and stats['num_seeds'] == 2
    diffs = [0.1, 0.2, 0.3, 0.2]
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    assert stats['paired_se'] == pytest.approx(sd / 2 / 2.0)  # / sqrt(4) / baseline mean
    assert stats['seed_se'] == 0 and stats['total_se'] == pytest.approx(stats['paired_se'])
    assert verdict(stats) == 'met'


def test_seed_spread_counts():
    # every photo 10% better in one seed, 0% in the other: no photo-to-photo spread at all
    baseline = [1.0, 2.0, 3.0]
    trained = [[0.9, 1.8, 2.7], [1.0, 2.0, 3.0]]
    stats = paired_gain(baseline, trained)
    assert stats['gain'] == pytest.approx(0.05)
    assert stats['seed_se'] == pytest.approx(math.sqrt(0.005) / math.sqrt(2))
    assert stats['total_se'] > stats['paired_se']
    assert 'total SE' in verdict(stats, min_gain=0.01)


def test_paired_gain_pairs_by_photo():
    # the same per-seed means, but the per-photo differences disagree in sign: a large SE
    baseline = [1.0, 1.0, 1.0, 1.0]
    trained = [[0.7, 1.3, 0.7, 1.1]]
    stats = paired_gain(baseline, trained)
    assert stats['gain'] == pytest.approx(0.05)
    assert stats['photos_better'] == 2
    assert 'total SE' in verdict(stats)
    assert 'gain' in verdict(paired_gain([1.0, 1.0], [[0.99, 0.99]]))


def test_paired_gain_rejects_bad_input():
    with pytest.raises(ValueError, match='seed'):
        paired_gain([1.0, 2.0], [])
    with pytest.raises(ValueError, match='photo'):
        paired_gain([1.0, 2.0], [[1.0]])
    with pytest.raises(ValueError, match='finite'):
        paired_gain([1.0, 2.0], [[1.0, float('nan')]])
    with pytest.raises(ValueError, match='> 0'):
        paired_gain([0.0, 0.0], [[1.0, 1.0]])


def test_probe_pairs_compare_per_image_error_with_the_baseline():
    probe = {'Bilinear': dict(acc_per_image=[[50.0, 60.0, 70.0], [51.0, 61.0, 71.0]]),
             'JBU': dict(acc_per_image=[[55.0, 62.0, 70.0], [53.0, 64.0, 72.0]]),
             'Short': dict(acc_per_image=[[1.0]]), 'Failed': dict(error='x')}
    lines = probe_pairs(probe)
    assert len(lines) == 3 and '3 images' in lines[0]
    # bilinear seed-mean errors 49.5, 39.5, 29.5 (mean 39.5); JBU's 46, 37, 29:
    # gain (3.5 + 2.5 + 0.5) / 3 / 39.5
    assert '- JBU: gain 5.49%' in lines[1] and 'better on 3/3 images' in lines[1]
    assert probe_pairs({'JBU': probe['JBU']}) == []
    # an image without labelled pixels (NaN accuracy) leaves the pairs
    bilinear = probe['Bilinear']
    bilinear['acc_per_image'] = [s + [math.nan] for s in bilinear['acc_per_image']]
    probe['JBU']['acc_per_image'] = [s + [50.0] for s in probe['JBU']['acc_per_image']]
    assert probe_pairs(probe)[1] == lines[1]


def test_probe_pairs_matched_seeds_count_the_baselines_seed_noise():
    probe = {'Bilinear': dict(seeds=[0, 1], acc_per_image=[[50.0, 60.0, 70.0], [51.0, 61.0, 71.0]]),
             'JBU': dict(seeds=[0, 1], acc_per_image=[[55.0, 62.0, 70.0], [53.0, 64.0, 72.0]])}
    line = probe_pairs(probe)[1]
    # paired SE: d = (3.5, 2.5, 0.5), stdev / sqrt(3) / 39.5; seed SE: matched gains
    # 1 - 37.667 / 40 and 1 - 37 / 39, std / sqrt(2)
    paired = statistics.stdev([3.5, 2.5, 0.5]) / math.sqrt(3) / 39.5
    seed = statistics.stdev([1 - (113 / 3) / 40, 1 - 37 / 39]) / math.sqrt(2)
    assert f'total SE {100 * math.hypot(paired, seed):.2f}%' in line and 'gain 5.49%' in line
    probe['Bilinear']['acc_per_image'] = [[100.0] * 3, [100.0] * 3]  # a zero baseline error
    assert 'not computed' in probe_pairs(probe)[1]


def test_recon_pairs_lines_per_trained_row():
    from mmfeatup.benchmark.paired_stats import recon_pairs
    # diffs 0.1, 0.2, 0.3 on a mean of 2: gain 0.2 / 2, paired SE 0.1 / sqrt(3) / 2, no seed SE
    recon = dict(Bilinear=dict(per_image=[[1.0, 2.0, 3.0]]),
                 Better=dict(per_image=[[0.9, 1.8, 2.7], [0.9, 1.8, 2.7]]),
                 Short=dict(per_image=[[0.5]]), Failed=dict(error='x'))
    lines = recon_pairs(recon)
    assert lines[0].startswith('Reconstruction paired by held-out photo (3 photos)')
    assert lines[1] == '- Better: gain 10.00% (total SE 2.89%, 2 seeds), better on 3/3 photos'
    assert lines[2].startswith('- Short: not computed')
    assert len(lines) == 4 and recon_pairs(dict(Better=recon['Better'])) == []
