"""Path and listing helpers of the segmentation data checks (:mod:`.checked_seg`).

Folders are listed through mmengine's file backends (``backend_args``), never decoded;
the messages name the path and append :func:`layout_hint`'s advice.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, Iterable, List, Optional, Sequence

from mmengine import fileio

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


def listed(paths: Iterable[str]) -> str:
    """At most :data:`MAX_LISTED` paths for a message."""
    paths = list(paths)
    shown = ', '.join(repr(p) for p in paths[:MAX_LISTED])
    return shown + (f' and {len(paths) - MAX_LISTED} more' if len(paths) > MAX_LISTED else '')



__all__ = ['MAX_LISTED', 'MAX_SCANNED', 'show_path', 'layout_hint', 'first_file',
           'other_suffixes', 'check_folder', 'check_not_empty', 'missing_files', 'listed']
