"""mmfeatup.datasets.photos (tools/dataset_converters/collect_photos.py): split by source, no
image in both splits, the excluded packages refused; the tool's --list from outside the repo."""
import csv
import hashlib
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import mmfeatup.datasets.photos as cp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'collect_photos.py')


def test_tool_lists_sources_and_exclusions_from_anywhere(tmp_path):
    out = subprocess.run([sys.executable, TOOL, '--list'], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert 'heldout  debian  libdlib19.1' in out.stdout
    assert 'excluded Debian packages (never used): darknet' in out.stdout


def _photo(seed, size=(300, 260)):
    """A smooth random 'photo' (distinct per seed)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size, Image.BICUBIC))


@pytest.fixture
def fake_debian(tmp_path):
    """A --deb-cache holding two fake Debian packages; one re-ships a 'train' picture."""
    cache = tmp_path / 'debs'
    shared = _photo(1)
    files = {
        'fake-train-pkg': {'usr/share/fake/a.jpg': shared, 'usr/share/fake/b.png': _photo(2)},
        'fake-heldout-pkg': {'usr/share/other/c.png': _photo(3),
                             # same picture, re-encoded, greyscale and resized
                             'usr/share/other/a_copy.jpg': np.stack(
                                 [np.asarray(Image.fromarray(shared).convert('L')
                                             .resize((250, 217)))] * 3, -1),
                             'usr/share/other/d.png': _photo(4)},
    }
    for package, content in files.items():
        for rel, array in content.items():
            path = cache / package / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(str(path), quality=90)
        (cache / package / '.version').write_text('1.0-1\n')
    sources = (
        cp.Source('faketrain', 'debian', 'fake-train-pkg', 'train', 'CC0',
                  ('usr/share/fake/a.jpg', 'usr/share/fake/b.png')),
        cp.Source('fakeheld', 'debian', 'fake-heldout-pkg', 'heldout', 'CC0',
                  ('usr/share/other/a_copy.jpg', 'usr/share/other/c.png',
                   'usr/share/other/d.png')),
        cp.Source('missing', 'debian', 'not-installed-pkg', 'heldout', 'CC0',
                  ('usr/share/nothing/x.jpg',)),
    )
    return str(cache), sources


def _check_disjoint(kept):
    train_sources = {i.source.package for i in kept['train']}
    heldout_sources = {i.source.package for i in kept['heldout']}
    assert not train_sources & heldout_sources
    for item in kept['train']:
        for other in kept['heldout']:
            assert not cp.is_duplicate(item.fp, other.fp), (item.file, other.file)


def test_split_fake_sources(fake_debian, tmp_path):
    cache, sources = fake_debian
    items, skipped = cp.gather(sources, cache, max_side=128, min_side=32, log=lambda *a: None)
    assert any('not-installed-pkg' in note for note in skipped)
    kept = cp.split_items(items, log=lambda *a: None)
    _check_disjoint(kept)
    # the re-shipped picture is dropped from train, held-out keeps its copy
    assert sorted(i.file for i in kept['train']) == ['faketrain_b.png']
    assert sorted(i.file for i in kept['heldout']) == [
        'fakeheld_a_copy.png', 'fakeheld_c.png', 'fakeheld_d.png']
    assert all(min(i.array.shape[:2]) == 128 for s in kept.values() for i in s)

    out = tmp_path / 'out'
    rows = cp.write(kept, str(out))
    rows_again = cp.write(kept, str(out))  # deterministic, stale files replaced
    assert rows == rows_again
    with open(out / 'MANIFEST.csv') as f:
        manifest = list(csv.DictReader(f))
    assert [r['file'] for r in manifest] == [r['file'] for r in rows]
    for row in manifest:
        data = (out / row['file']).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row['sha256']
        assert row['version'] == '1.0-1'
    assert sorted(p.name for p in (out / 'train').iterdir()) == ['faketrain_b.png']


def test_excluded_packages_refused(tmp_path):
    for package in ('plasma-workspace-wallpapers', 'lomiri-wallpapers-16.04',
                    'lomiri-wallpapers-20.04', 'mate-backgrounds', 'opencv-doc', 'darknet'):
        assert package in cp.EXCLUDED_DEBIAN
        bad = cp.Source('bad', 'debian', package, 'train', '?', ('usr/share/x.jpg',))
        with pytest.raises(ValueError, match='independent evaluation'):
            cp.check_sources([bad])
        listing = tmp_path / f'{package}.txt'
        listing.write_text(f'lxqt-themes\n{package}\n')
        with pytest.raises(ValueError, match='independent evaluation'):
            cp.read_package_list(str(listing))
    # the project's own package list and source table are clean
    assert not set(cp.read_package_list(cp.DEBIAN_LIST)) & cp.EXCLUDED_DEBIAN
    cp.check_sources(cp.SOURCES)


def test_source_on_both_sides_refused():
    a = cp.Source('x', 'pip', 'pkg', 'train', '?', ('a.png',))
    b = cp.Source('y', 'pip', 'pkg', 'heldout', '?', ('b.png',))
    with pytest.raises(ValueError, match='both'):
        cp.check_sources([a, b])


def test_real_sources_disjoint(tmp_path):
    """What this machine has: split by source, no shared image, Debian gaps reported."""
    assert set(cp.read_package_list(cp.DEBIAN_LIST)) == {
        s.package for s in cp.SOURCES if s.kind == 'debian'}
    items, skipped = cp.gather(cp.SOURCES, str(tmp_path / 'no-cache'), max_side=64,
                               min_side=32, log=lambda *a: None)
    if not items:
        pytest.skip('no photo package available')
    kept = cp.split_items(items, log=lambda *a: None)
    _check_disjoint(kept)
    names = [i.file for s in kept.values() for i in s]
    assert len(names) == len(set(names))
    for source in cp.SOURCES:
        if source.kind == 'debian' and not cp.locate(source, str(tmp_path / 'no-cache'))[0]:
            assert any(source.package in note for note in skipped)
