"""Segmentation datasets that fail early, with the path and the fix, on a broken data folder.

mmseg's :class:`~mmseg.datasets.BaseSegDataset` lists ``data_prefix.img_path`` and
pairs every image ``NAME{img_suffix}`` with ``data_prefix.seg_map_path/NAME{seg_map_suffix}``
without looking at either folder: a wrong ``data_root`` ends in mmengine's
``ValueError: need at least one array to concatenate`` and a missing label file only
when a worker first reads it. :class:`SegDataCheckMixin` checks the folders and the
pairing in ``load_data_list`` (listing files only, nothing is decoded) and raises a
:class:`FileNotFoundError` that names the offending path, the expected layout and how
to set ``data_root`` (the path and listing helpers are :mod:`.seg_paths`). Per-sample
checks (label size and values) are the pipeline transform
:class:`~mmfeatup.datasets.transforms.CheckSegMap`.

On valid data the data list is exactly the parent class's (same samples, same order).
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List, Sequence

from mmengine import fileio
from mmseg.datasets import ADE20KDataset, BaseSegDataset

from mmfeatup.registry import DATASETS

from .seg_paths import (check_folder, check_not_empty, layout_hint, listed, missing_files,
                        show_path)


class SegDataCheckMixin:
    """Checks of a :class:`~mmseg.datasets.BaseSegDataset` subclass's folders and file pairing.

    Put it first among the bases (``class MyDataset(SegDataCheckMixin, BaseSegDataset)``):
    ``load_data_list`` checks that ``data_root`` and the image / annotation folders exist
    and hold files with the dataset's suffixes (or that ``ann_file`` exists), calls the
    dataset's own ``load_data_list`` and checks that every listed image has its label
    file, then returns that list unchanged. Every error is a :class:`FileNotFoundError`
    naming the path, followed by :func:`layout_hint` and :attr:`DATA_HINT`.
    """

    #: Dataset-specific advice appended to every error (usual layout, how to get the data).
    DATA_HINT: str = ''

    def data_hint(self) -> str:
        """The advice appended to every error of this dataset.

        Returns:
            str: :func:`layout_hint` for this dataset's folders and suffixes.
        """
        return layout_hint(self.data_root, self.data_prefix.get('img_path'),
                           self.data_prefix.get('seg_map_path'), self.img_suffix,
                           self.seg_map_suffix, self.DATA_HINT)

    def uses_ann_file(self) -> bool:
        """Whether samples come from ``ann_file`` (as in ``BaseSegDataset.load_data_list``).

        Returns:
            bool: True for a list file, False when the image folder is listed.
        """
        return bool(self.ann_file) and not osp.isdir(self.ann_file)

    def check_folders(self) -> None:
        """Check ``data_root``, ``ann_file`` and the image / annotation folders (no decoding).

        Raises:
            FileNotFoundError: one of them is missing, or a folder holds no file with the
                dataset's suffix.
        """
        hint, backend = self.data_hint(), self.backend_args
        img_dir = self.data_prefix.get('img_path')
        ann_dir = self.data_prefix.get('seg_map_path')
        if self.data_root and not fileio.isdir(self.data_root, backend_args=backend):
            raise FileNotFoundError(f'data_root {show_path(self.data_root)} does not exist. '
                                    f'{hint}')
        with_ann_file = self.uses_ann_file()
        if with_ann_file and not fileio.isfile(self.ann_file, backend_args=backend):
            raise FileNotFoundError(
                f'ann_file {show_path(self.ann_file)} (the list of sample names) does not '
                f'exist: fix ann_file in the dataset config, or set ann_file=\'\' to use every '
                f'*{self.img_suffix} file of the image folder. {hint}')
        check_folder(img_dir, 'image', hint, backend)
        if ann_dir is not None:
            check_folder(ann_dir, 'annotation', hint, backend)
        if not with_ann_file:  # samples are the image folder's files
            check_not_empty(img_dir, self.img_suffix, 'image', 'img_suffix', hint, backend)
        if ann_dir is not None:
            check_not_empty(ann_dir, self.seg_map_suffix, 'annotation', 'seg_map_suffix', hint,
                            backend)

    def check_pairs(self, data_list: Sequence[Dict[str, Any]]) -> None:
        """Check that the data list is not empty and that every image has its label file.

        Args:
            data_list (Sequence[dict]): the parent class's data list.

        Raises:
            FileNotFoundError: no samples, an image listed in ``ann_file`` is missing, or an
                image has no label file.
        """
        hint, backend = self.data_hint(), self.backend_args
        img_dir = self.data_prefix.get('img_path')
        ann_dir = self.data_prefix.get('seg_map_path')
        with_ann_file = self.uses_ann_file()
        source = (f'ann_file {show_path(self.ann_file)}' if with_ann_file
                  else f'image folder {show_path(img_dir)}')
        if not data_list:
            raise FileNotFoundError(f'{source} lists no samples. {hint}')
        if with_ann_file:
            images = missing_files([d['img_path'] for d in data_list], img_dir, self.img_suffix,
                                   backend)
            if images:
                raise FileNotFoundError(
                    f'{len(images)} of {len(data_list)} images named in {source} do not exist: '
                    f'{listed(images)}. Fix the names in ann_file or add the images. {hint}')
        if ann_dir is None:
            return
        with_label = [d for d in data_list if d.get('seg_map_path')]
        labels = set(missing_files([d['seg_map_path'] for d in with_label], ann_dir,
                                   self.seg_map_suffix, backend))
        unpaired = [d for d in with_label if d['seg_map_path'] in labels]
        if unpaired:
            first = unpaired[0]
            others = [d['img_path'] for d in unpaired[1:]]
            more = f' (also without one: {listed(others)})' if others else ''
            raise FileNotFoundError(
                f'image {first["img_path"]!r} has no label file: expected '
                f'{first["seg_map_path"]!r}; {len(unpaired)} of {len(data_list)} images of '
                f'{source} lack one{more}. Every image NAME{self.img_suffix} needs '
                f'NAME{self.seg_map_suffix} at the same relative place in the annotation folder '
                f'{show_path(ann_dir)}: add the missing label maps, remove those images, or fix '
                f'data_prefix.seg_map_path / seg_map_suffix. {hint}')

    def load_data_list(self) -> List[dict]:
        """The parent's data list, after checking the folders and before checking the pairing.

        Returns:
            list[dict]: the parent class's data list, unchanged.
        """
        self.check_folders()
        data_list = super().load_data_list()  # type: ignore[misc]
        self.check_pairs(data_list)
        return data_list


@DATASETS.register_module()
class CheckedBaseSegDataset(SegDataCheckMixin, BaseSegDataset):
    """mmseg's :class:`~mmseg.datasets.BaseSegDataset` with :class:`SegDataCheckMixin`'s checks.

    Same arguments as ``BaseSegDataset``.
    """


@DATASETS.register_module()
class CheckedADE20KDataset(SegDataCheckMixin, ADE20KDataset):
    """mmseg's :class:`~mmseg.datasets.ADE20KDataset` with :class:`SegDataCheckMixin`'s checks.

    Same arguments and samples as ``ADE20KDataset`` (``.jpg`` images, ``.png`` label maps,
    ``reduce_zero_label=True``).
    """

    DATA_HINT = ('ADE20K: ADEChallengeData2016/images/{training,validation}/*.jpg and '
                 'ADEChallengeData2016/annotations/{training,validation}/*.png (png value = '
                 'class index + 1, 0 = ignored). The bundled demo set in this layout is built '
                 'by `python tools/dataset_converters/make_demo_dataset.py --out data/ade_demo` '
                 '(tools/demo.py builds it when missing).')


__all__ = ['SegDataCheckMixin', 'CheckedBaseSegDataset', 'CheckedADE20KDataset', 'layout_hint',
           'check_folder', 'check_not_empty', 'missing_files']
