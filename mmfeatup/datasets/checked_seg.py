"""Segmentation datasets that fail early, with the path and the fix, on a broken data folder.

mmseg's :class:`~mmseg.datasets.BaseSegDataset` lists ``data_prefix.img_path`` and
pairs every image ``NAME{img_suffix}`` with ``data_prefix.seg_map_path/NAME{seg_map_suffix}``
without looking at either folder: a wrong ``data_root`` ends in mmengine's
``ValueError: need at least one array to concatenate`` and a missing label file only
when a worker first reads it. :class:`SegDataCheckMixin` checks the folders and the
pairing in ``load_data_list`` (listing files only, nothing is decoded) and raises a
:class:`FileNotFoundError` that names the offending path, the expected layout and how
to set ``data_root``. Per-sample checks (label size and values) are the pipeline
transform :class:`~mmfeatup.datasets.transforms.CheckSegMap`.

On valid data the data list is exactly the parent class's (same samples, same order).
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, Iterable, List, Optional, Sequence

from mmengine import fileio
from mmseg.datasets import ADE20KDataset, BaseSegDataset

from mmfeatup.registry import DATASETS

#: How many file names an error message lists at most.
MAX_LISTED = 3
#: How many entries of a folder are looked at to say which suffixes it holds instead.
MAX_SCANNED = 1000


def show_path(path: Optional[str]) -> str:
    """A path for a message: quoted, with its absolute form when it is a relative local path.

    Args:
        path (str, optional): the path.

    Returns:
        str: e.g. ``'data/ade' (= /work/data/ade)``.
    """
    if not path or osp.isabs(path) or '://' in path:
        return repr(path)
    return f'{path!r} (= {osp.abspath(path)})'


def layout_hint(data_root: Optional[str], img_dir: Optional[str], ann_dir: Optional[str],
                img_suffix: str, seg_map_suffix: str, extra: str = '') -> str:
    """The advice appended to every data error: expected layout and where ``data_root`` is set.

    Args:
        data_root (str, optional): the dataset's ``data_root``.
        img_dir (str, optional): the image folder (``data_prefix.img_path``, joined).
        ann_dir (str, optional): the label folder (``data_prefix.seg_map_path``, joined).
        img_suffix (str): the dataset's image suffix.
        seg_map_suffix (str): the dataset's label map suffix.
        extra (str): dataset-specific advice (layout of the usual data set, how to get it).

    Returns:
        str: the advice, one paragraph.
    """
    layout = f'Expected layout: images {img_dir}/NAME{img_suffix}'
    if ann_dir is not None:
        layout += f' with their label maps {ann_dir}/NAME{seg_map_suffix}'
    where = (f'data_root (now {data_root!r}) is a config field: set `data_root = PATH` in the '
             'config or pass --cfg-options train_dataloader.dataset.data_root=PATH '
             'val_dataloader.dataset.data_root=PATH test_dataloader.dataset.data_root=PATH; '
             'the folders below it are data_prefix=dict(img_path=..., seg_map_path=...), and '
             'img_suffix / seg_map_suffix the file endings.')
    return ' '.join(part for part in (layout + '.', extra, where) if part)


def first_file(folder: str, suffix: Optional[str],
               backend_args: Optional[Dict[str, Any]] = None) -> Optional[str]:
    """The first file under ``folder`` (recursive) ending in ``suffix``, or None.

    Args:
        folder (str): the folder.
        suffix (str, optional): the file ending; None for any file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        str | None: a path relative to ``folder``.
    """
    files = fileio.list_dir_or_file(folder, list_dir=False, suffix=suffix, recursive=True,
                                    backend_args=backend_args)
    return next(iter(files), None)


def other_suffixes(folder: str, backend_args: Optional[Dict[str, Any]] = None) -> List[str]:
    """The file endings found under ``folder`` (the first :data:`MAX_SCANNED` files).

    Args:
        folder (str): the folder.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[str]: sorted distinct endings such as ``['.JPEG', '.png']``.
    """
    found = set()
    files = fileio.list_dir_or_file(folder, list_dir=False, recursive=True,
                                    backend_args=backend_args)
    for index, name in enumerate(files):
        if index >= MAX_SCANNED:
            break
        found.add(osp.splitext(name)[1] or name)
    return sorted(found)


def check_folder(folder: Optional[str], kind: str, hint: str,
                 backend_args: Optional[Dict[str, Any]] = None) -> None:
    """Raise when ``folder`` is not an existing folder.

    Args:
        folder (str, optional): the folder.
        kind (str): what it should hold, for the message (``'image'``, ``'annotation'``).
        hint (str): advice appended to the message (:func:`layout_hint`).
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        FileNotFoundError: the folder does not exist.
    """
    if not folder or not fileio.isdir(folder, backend_args=backend_args):
        raise FileNotFoundError(f'{kind} folder {show_path(folder)} does not exist. {hint}')


def check_not_empty(folder: str, suffix: str, kind: str, suffix_key: str, hint: str,
                    backend_args: Optional[Dict[str, Any]] = None) -> None:
    """Raise when ``folder`` holds no file ending in ``suffix`` (recursive).

    Args:
        folder (str): an existing folder.
        suffix (str): the dataset's file ending for this folder.
        kind (str): what it should hold, for the message.
        suffix_key (str): the dataset argument that sets ``suffix`` (for the fix).
        hint (str): advice appended to the message.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        FileNotFoundError: no file with the suffix is there.
    """
    if first_file(folder, suffix, backend_args) is not None:
        return
    others = other_suffixes(folder, backend_args)
    found = (f'it holds files ending in {", ".join(others)} only: if those are the {kind} '
             f'files, set {suffix_key}={others[0]!r} in the dataset config. '
             if others else 'it is empty. ')
    raise FileNotFoundError(f'{kind} folder {show_path(folder)} holds no *{suffix} file: '
                            f'{found}{hint}')


def missing_files(paths: Sequence[str], folder: str, suffix: str,
                  backend_args: Optional[Dict[str, Any]] = None) -> List[str]:
    """The paths among ``paths`` that do not exist; ``folder`` is listed once, not stat'ed per file.

    Args:
        paths (Sequence[str]): file paths, normally ``folder/...`` ending in ``suffix``.
        folder (str): the folder that holds them.
        suffix (str): their file ending (only such files are listed).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[str]: the missing paths, in the order given.
    """
    listed = {name.replace('\\', '/') for name in fileio.list_dir_or_file(
        folder, list_dir=False, suffix=suffix, recursive=True, backend_args=backend_args)}
    prefix = folder.rstrip('/\\')
    missing = []
    for path in paths:
        if path.startswith(prefix + '/') or path.startswith(prefix + '\\'):
            present = path[len(prefix) + 1:].replace('\\', '/') in listed
        else:  # not below the folder (an unusual data_list): ask the backend
            present = fileio.exists(path, backend_args=backend_args)
        if not present:
            missing.append(path)
    return missing


def _listed(paths: Iterable[str]) -> str:
    """At most :data:`MAX_LISTED` paths for a message."""
    paths = list(paths)
    shown = ', '.join(repr(p) for p in paths[:MAX_LISTED])
    return shown + (f' and {len(paths) - MAX_LISTED} more' if len(paths) > MAX_LISTED else '')


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
                    f'{_listed(images)}. Fix the names in ann_file or add the images. {hint}')
        if ann_dir is None:
            return
        with_label = [d for d in data_list if d.get('seg_map_path')]
        labels = set(missing_files([d['seg_map_path'] for d in with_label], ann_dir,
                                   self.seg_map_suffix, backend))
        unpaired = [d for d in with_label if d['seg_map_path'] in labels]
        if unpaired:
            first = unpaired[0]
            others = [d['img_path'] for d in unpaired[1:]]
            more = f' (also without one: {_listed(others)})' if others else ''
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
